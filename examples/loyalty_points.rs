//! The loyalty-points capability: a custom AITP capability declared as Rust types.
//!
//! Not an example on its own: the `loyalty` and `capability_schema` examples include it
//! (`#[path = "loyalty_points.rs"] mod loyalty_points;`). Each message is a struct deriving
//! `CapabilityMessage` under the capability's URL; the `Loyalty` enum deriving `Capability`
//! declares the whole capability, whose `schema.json` is `Loyalty::schema()`. Doc comments
//! become the schema's descriptions, `schemars` attributes its rules.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Asks how many points an account holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]
#[aitp(
    capability = "https://loyalty.example/caps/points/v1.2.0/schema.json",
    key = "request_balance"
)]
pub struct RequestBalance {
    /// The loyalty account, such as a customer number.
    #[schemars(length(min = 1))]
    pub account: String,
}

/// Spends points, for instance on an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]
#[aitp(
    capability = "https://loyalty.example/caps/points/v1.2.0/schema.json",
    key = "redeem_points"
)]
pub struct RedeemPoints {
    /// The loyalty account.
    #[schemars(length(min = 1))]
    pub account: String,
    /// How many points to spend.
    #[schemars(range(min = 1))]
    pub points: u64,
    /// The order the points pay for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

/// How many points an account holds: the answer to a balance request or a redemption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]
#[aitp(
    capability = "https://loyalty.example/caps/points/v1.2.0/schema.json",
    key = "points_balance"
)]
pub struct PointsBalance {
    /// The loyalty account.
    pub account: String,
    /// Points left.
    pub points: u64,
    /// Points just spent, when this answers a redemption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redeemed: Option<u64>,
}

/// Loyalty points: ask for a balance, spend points, learn what is left.
#[derive(Debug, Clone, PartialEq, aitp::Capability)]
#[aitp(
    capability = "https://loyalty.example/caps/points/v1.2.0/schema.json",
    title = "Loyalty points"
)]
pub enum Loyalty {
    /// The customer asks for their balance.
    RequestBalance(RequestBalance),
    /// The customer spends points.
    Redeem(RedeemPoints),
    /// The loyalty desk says what is left.
    Balance(PointsBalance),
}
