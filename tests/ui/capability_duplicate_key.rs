// Two messages of one capability cannot share a key.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]
#[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json", key = "redeem_points")]
struct RedeemPoints {
    points: u64,
}

#[derive(Clone, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]
#[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json", key = "redeem_points")]
struct SpendPoints {
    points: u64,
}

#[derive(aitp::Capability)]
#[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json")]
enum Loyalty {
    Redeem(RedeemPoints),
    Spend(SpendPoints),
}

fn main() {}
