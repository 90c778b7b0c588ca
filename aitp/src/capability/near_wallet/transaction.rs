//! `request_transaction` and `transaction_response`: transactions and actions to sign and send, and the hash.

#[allow(unused_imports)]
use super::*;

/// `request_transaction`: asks the wallet to sign and send a transaction.
///
/// There is no signer or network field: the wallet signs with the account it chooses.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "request_transaction",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearRequestTransaction", extend("additionalProperties" = false))]
pub struct RequestTransaction {
    /// Identifies the request; the response repeats it.
    pub request_id: String,
    /// What the transaction does, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The transaction to sign.
    pub transaction: Transaction,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RequestTransaction {
    /// A request to sign `transaction`.
    pub fn new(request_id: impl Into<String>, transaction: Transaction) -> Self {
        Self {
            request_id: request_id.into(),
            description: None,
            transaction,
            extra: Map::new(),
        }
    }

    /// A request to call `method_name` on `receiver_id` with the JSON arguments `args_json`,
    /// attaching `gas` and `deposit_yocto` (yoctoNEAR: 10^-24 NEAR).
    pub fn function_call(
        request_id: impl Into<String>,
        receiver_id: impl Into<String>,
        method_name: impl Into<String>,
        args_json: &Value,
        gas: u64,
        deposit_yocto: u128,
    ) -> Self {
        Self::new(
            request_id,
            Transaction::new(
                receiver_id,
                [Action::function_call(
                    method_name,
                    args_json,
                    gas,
                    deposit_yocto,
                )],
            ),
        )
    }

    /// A request to transfer `deposit_yocto` yoctoNEAR to `receiver_id`.
    pub fn transfer(
        request_id: impl Into<String>,
        receiver_id: impl Into<String>,
        deposit_yocto: u128,
    ) -> Self {
        Self::new(
            request_id,
            Transaction::new(receiver_id, [Action::transfer(deposit_yocto)]),
        )
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Appends an action to the transaction.
    #[must_use]
    pub fn action(mut self, action: Action) -> Self {
        self.transaction.actions.push(action);
        self
    }

    /// The answer reporting the sent transaction's hash, correlated to this request.
    pub fn respond(&self, transaction_hash: impl Into<String>) -> TransactionResponse {
        TransactionResponse::new(self.request_id.clone(), transaction_hash)
    }
}

impl Validate for RequestTransaction {
    fn check(&self, v: &mut Validator) {
        v.nested("transaction", &self.transaction);
        v.closed(&self.extra);
    }
}

/// The transaction of a [`RequestTransaction`] (closed object).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct Transaction {
    /// The account the actions apply to (the contract called, the account paid …).
    pub receiver_id: String,
    /// What to do, in order (the schema sets no minimum).
    pub actions: Vec<Action>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Transaction {
    /// A transaction of `actions` on `receiver_id`.
    pub fn new(receiver_id: impl Into<String>, actions: impl IntoIterator<Item = Action>) -> Self {
        Self {
            receiver_id: receiver_id.into(),
            actions: actions.into_iter().collect(),
            extra: Map::new(),
        }
    }
}

impl Validate for Transaction {
    fn check(&self, v: &mut Validator) {
        v.nested("actions", &self.actions);
        v.closed(&self.extra);
    }
}

wire_enum! {
    /// The kind of a NEAR transaction [`Action`].
    pub enum ActionType : schema("NearActionType", "The kind of NEAR action; `params` holds its arguments.") {
        /// Create the receiver account.
        CreateAccount = "CreateAccount",
        /// Deploy contract code to the receiver.
        DeployContract = "DeployContract",
        /// Call a contract method.
        FunctionCall = "FunctionCall",
        /// Send NEAR.
        Transfer = "Transfer",
        /// Stake NEAR with a validator key.
        Stake = "Stake",
        /// Add an access key.
        AddKey = "AddKey",
        /// Delete an access key.
        DeleteKey = "DeleteKey",
        /// Delete the receiver account.
        DeleteAccount = "DeleteAccount",
    }
}

/// One action of a [`Transaction`]: a type and free-form parameters (closed object, but
/// `params` is open).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct Action {
    /// What the action does.
    #[serde(rename = "type")]
    pub r#type: ActionType,
    /// Its arguments, as the wallet expects them; for `FunctionCall`: `method_name`, `args`
    /// (base64 of the JSON arguments), `gas` and `deposit` (decimal strings). Kept as raw
    /// JSON: numbers are never rounded.
    pub params: Map<String, Value>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Action {
    /// An action of type `kind` with these parameters.
    pub fn new(kind: ActionType, params: Map<String, Value>) -> Self {
        Self {
            r#type: kind,
            params,
            extra: Map::new(),
        }
    }

    /// A `FunctionCall` of `method_name` with the JSON arguments `args_json` (sent base64
    /// encoded, as the docs show), `gas` and `deposit_yocto` (written as decimal strings).
    pub fn function_call(
        method_name: impl Into<String>,
        args_json: &Value,
        gas: u64,
        deposit_yocto: u128,
    ) -> Self {
        let args = serde_json::to_vec(args_json).unwrap_or_default();
        let mut params = Map::new();
        params.insert("method_name".into(), Value::String(method_name.into()));
        params.insert("args".into(), Value::String(base64::encode(&args)));
        params.insert("gas".into(), Value::String(gas.to_string()));
        params.insert("deposit".into(), Value::String(deposit_yocto.to_string()));
        Self::new(ActionType::FunctionCall, params)
    }

    /// A `Transfer` of `deposit_yocto` yoctoNEAR (written as a decimal string).
    pub fn transfer(deposit_yocto: u128) -> Self {
        let mut params = Map::new();
        params.insert("deposit".into(), Value::String(deposit_yocto.to_string()));
        Self::new(ActionType::Transfer, params)
    }

    /// The `deposit` parameter in yoctoNEAR, read from a decimal string (or a JSON integer).
    pub fn deposit_yocto(&self) -> Option<u128> {
        self.params.get("deposit").and_then(integer_param)
    }

    /// The `gas` parameter, read from a decimal string (or a JSON integer).
    pub fn gas(&self) -> Option<u64> {
        self.params
            .get("gas")
            .and_then(integer_param)
            .and_then(|g| u64::try_from(g).ok())
    }

    /// The `FunctionCall` arguments: `args` decoded from base64, then parsed as JSON. `None`
    /// when absent, not base64, or not JSON (contracts may take other encodings).
    pub fn args_json(&self) -> Option<Value> {
        let bytes = base64::decode(self.params.get("args")?.as_str()?)?;
        serde_json::from_slice(&bytes).ok()
    }
}

pub(super) fn integer_param(v: &Value) -> Option<u128> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_str().parse().ok(),
        _ => None,
    }
}

impl Validate for Action {
    fn check(&self, v: &mut Validator) {
        check_enum(v, "type", self.r#type.as_str(), ACTION_TYPES);
        v.closed(&self.extra);
    }
}

/// `transaction_response`: the hash of the transaction the wallet sent.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "transaction_response",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearTransactionResponse", extend("additionalProperties" = false))]
pub struct TransactionResponse {
    /// The `request_id` of the [`RequestTransaction`] answered.
    pub request_id: String,
    /// The transaction hash (base58), to look the outcome up on chain.
    pub transaction_hash: String,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl TransactionResponse {
    /// The answer to `request_id`.
    pub fn new(request_id: impl Into<String>, transaction_hash: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            transaction_hash: transaction_hash.into(),
            extra: Map::new(),
        }
    }
}

impl Validate for TransactionResponse {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}
