// Every message of a capability carries the capability's URL.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]
#[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json", key = "redeem_points")]
struct RedeemPoints {
    points: u64,
}

#[derive(Clone, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]
#[aitp(capability = "https://loyalty.example/caps/points/v2.0.0/schema.json", key = "points_balance")]
struct PointsBalance {
    points: u64,
}

// The enum names its URL: both messages are checked against it.
#[derive(aitp::Capability)]
#[aitp(capability = "https://loyalty.example/caps/points/v1.3.0/schema.json")]
enum Named {
    Redeem(RedeemPoints),
}

// No URL: every message must carry the first one's.
#[derive(aitp::Capability)]
enum Inferred {
    Redeem(RedeemPoints),
    Balance(PointsBalance),
}

fn main() {}
