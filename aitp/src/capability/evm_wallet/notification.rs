//! `chain_notification` and `token_notification`: chains and ERC-20 tokens to tell the wallet about.

#[allow(unused_imports)]
use super::*;

/// `chain_notification`: tells the wallet about a chain (to add or switch to).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
    key = "chain_notification",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(rename = "EvmChainNotification", extend("additionalProperties" = false))]
pub struct ChainNotification {
    /// Identifies the notification.
    pub notification_id: String,
    /// The chain id (1 Ethereum, 10 Optimism, 137 Polygon, 42161 Arbitrum One …).
    pub chain_id: u64,
    /// The chain's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A JSON-RPC endpoint of the chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(url)]
    pub rpc_url: Option<String>,
    /// The chain's native currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native_currency: Option<NativeCurrency>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl ChainNotification {
    /// A notification about the chain `chain_id`.
    pub fn new(notification_id: impl Into<String>, chain_id: u64) -> Self {
        Self {
            notification_id: notification_id.into(),
            chain_id,
            name: None,
            rpc_url: None,
            native_currency: None,
            extra: Map::new(),
        }
    }

    /// Sets the chain's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the JSON-RPC endpoint (an absolute URL).
    pub fn rpc_url(mut self, url: impl Into<String>) -> Self {
        self.rpc_url = Some(url.into());
        self
    }

    /// Sets the native currency.
    pub fn native_currency(mut self, currency: NativeCurrency) -> Self {
        self.native_currency = Some(currency);
        self
    }
}

impl Validate for ChainNotification {
    fn check(&self, v: &mut Validator) {
        if let Some(u) = &self.rpc_url {
            v.uri("rpc_url", u);
        }
        if let Some(c) = &self.native_currency {
            v.nested("native_currency", c);
        }
        v.closed(&self.extra);
    }
}

/// The native currency of a chain (ETH, MATIC …).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(rename = "EvmNativeCurrency", extend("additionalProperties" = false))]
pub struct NativeCurrency {
    /// Its name.
    pub name: String,
    /// Its ticker symbol.
    pub symbol: String,
    /// Decimal places of its smallest unit (18 for ETH).
    pub decimals: u64,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl NativeCurrency {
    /// A currency `name` / `symbol` with `decimals` decimal places.
    pub fn new(name: impl Into<String>, symbol: impl Into<String>, decimals: u64) -> Self {
        Self {
            name: name.into(),
            symbol: symbol.into(),
            decimals,
            extra: Map::new(),
        }
    }
}

impl Validate for NativeCurrency {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}

wire_enum! {
    /// The token standard of a [`TokenNotification`].
    pub enum TokenType : schema("EvmTokenType", "The token standard: `erc20`.") {
        /// An ERC-20 fungible token (the only one the schema defines).
        Erc20 = "erc20",
    }
}

/// `token_notification`: tells the wallet about an ERC-20 token (to track or display).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-05-evm-wallet/v1.0.0/schema.json",
    key = "token_notification",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(rename = "EvmTokenNotification", extend("additionalProperties" = false))]
pub struct TokenNotification {
    /// Identifies the notification.
    pub notification_id: String,
    /// The chain the token lives on.
    pub chain_id: u64,
    /// The token standard (`erc20`).
    pub token_type: TokenType,
    /// The token's contract address.
    #[schemars(regex(pattern = ADDRESS_PATTERN))]
    pub token_contract: String,
    /// The token's name.
    pub name: String,
    /// Its ticker symbol.
    pub symbol: String,
    /// Decimal places of its smallest unit (6 for USDT, 18 for most).
    pub decimals: u64,
    /// An image of the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(url)]
    pub icon_url: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl TokenNotification {
    /// A notification about the ERC-20 token at `token_contract` on `chain_id`.
    pub fn erc20(
        notification_id: impl Into<String>,
        chain_id: u64,
        token_contract: Address,
        name: impl Into<String>,
        symbol: impl Into<String>,
        decimals: u64,
    ) -> Self {
        Self {
            notification_id: notification_id.into(),
            chain_id,
            token_type: TokenType::Erc20,
            token_contract: token_contract.into(),
            name: name.into(),
            symbol: symbol.into(),
            decimals,
            icon_url: None,
            extra: Map::new(),
        }
    }

    /// Sets the icon (an absolute URL).
    pub fn icon_url(mut self, url: impl Into<String>) -> Self {
        self.icon_url = Some(url.into());
        self
    }
}

impl Validate for TokenNotification {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "token_type", self.token_type.as_str(), &["erc20"]);
        v.hex("token_contract", &self.token_contract, Some(40), 0);
        if let Some(u) = &self.icon_url {
            v.uri("icon_url", u);
        }
        v.closed(&self.extra);
    }
}
