//! `request_account` and `account_response`: which NEAR accounts the wallet holds.

#[allow(unused_imports)]
use super::*;

/// `request_account`: asks the wallet which NEAR accounts it holds.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "request_account",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearRequestAccount", extend("additionalProperties" = false))]
pub struct RequestAccount {
    /// Identifies the request; the response repeats it.
    pub request_id: String,
    /// Why the accounts are wanted, for the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RequestAccount {
    /// A request with this id.
    pub fn new(request_id: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            description: None,
            extra: Map::new(),
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The answer listing `accounts`, correlated to this request.
    pub fn respond<A: Into<String>>(
        &self,
        accounts: impl IntoIterator<Item = A>,
    ) -> AccountResponse {
        AccountResponse::new(self.request_id.clone(), accounts)
    }
}

impl Validate for RequestAccount {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}

/// `account_response`: the wallet's NEAR accounts.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json",
    key = "account_response",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "NearAccountResponse", extend("additionalProperties" = false))]
pub struct AccountResponse {
    /// The `request_id` of the [`RequestAccount`] answered.
    pub request_id: String,
    /// Account ids such as `user.near` (possibly none: the schema sets no minimum).
    pub accounts: Vec<String>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl AccountResponse {
    /// The answer to `request_id` listing `accounts`.
    pub fn new<A: Into<String>>(
        request_id: impl Into<String>,
        accounts: impl IntoIterator<Item = A>,
    ) -> Self {
        Self {
            request_id: request_id.into(),
            accounts: accounts.into_iter().map(Into::into).collect(),
            extra: Map::new(),
        }
    }
}

impl Validate for AccountResponse {
    fn check(&self, v: &mut Validator) {
        v.closed(&self.extra);
    }
}
