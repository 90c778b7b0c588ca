//! AITP-04 NEAR Wallet: an agent asks a user's NEAR wallet for its accounts, to sign a
//! transaction, or to sign a message (NEP-413), and tells it about tokens (NEP-141).
//!
//! Schema: `https://aitp.dev/capabilities/aitp-04-near-wallet/v1.0.0/schema.json`. Every object
//! is closed (`additionalProperties: false`) except an action's free-form `params`; unknown
//! fields are still read and kept (an agent may pass a message on unchanged), and
//! [`Validate`] reports them. Message keys are shared with AITP-05 (EVM Wallet): only the
//! `$schema` URL tells them apart.
//!
//! Quantities in `params` (gas, yoctoNEAR deposits) are decimal strings, since a u128 does not
//! fit a JSON number a JavaScript wallet could read; `params` is kept as raw JSON, so numbers
//! are never rounded.
//!
//! ```
//! use aitp::capability::near_wallet::RequestTransaction;
//!
//! let request = RequestTransaction::function_call(
//!     "tx_1",
//!     "nft.example.near",
//!     "nft_mint",
//!     &serde_json::json!({"token_id": "1"}),
//!     30_000_000_000_000,
//!     10_000_000_000_000_000_000_000,
//! )
//! .description("Mint your NFT");
//! let action = &request.transaction.actions[0];
//! assert_eq!(action.params["gas"], "30000000000000");
//! assert_eq!(action.args_json().unwrap()["token_id"], "1");
//! let response = request.respond("9pz7fg2ZnM8joauyjvmwJeUESanYjRFzD3MN3kENAHVV");
//! assert_eq!(response.request_id, "tx_1");
//! ```

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    CapabilityMessage, OpenDeserialize,
    validate::{Validate, Validator, check_enum},
};

/// The action types the schema allows.
const ACTION_TYPES: &[&str] = &[
    "CreateAccount",
    "DeployContract",
    "FunctionCall",
    "Transfer",
    "Stake",
    "AddKey",
    "DeleteKey",
    "DeleteAccount",
];

mod account;
mod base64;
mod notification;
mod signing;
mod transaction;

pub use account::*;
#[allow(unused_imports)]
use account::*;
pub use notification::*;
#[allow(unused_imports)]
use notification::*;
pub use signing::*;
#[allow(unused_imports)]
use signing::*;
pub use transaction::*;
#[allow(unused_imports)]
use transaction::*;

#[cfg(test)]
mod tests;
