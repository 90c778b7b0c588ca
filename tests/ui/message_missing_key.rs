// A message needs the key it travels under.
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, aitp::CapabilityMessage)]
#[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json")]
struct RedeemPoints {
    points: u64,
}

#[derive(Clone, Serialize, Deserialize, aitp::CapabilityMessage)]
struct NoAttribute {
    points: u64,
}

#[derive(Clone, Serialize, Deserialize, aitp::CapabilityMessage)]
#[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json", key = "")]
struct EmptyKey {
    points: u64,
}

#[derive(Clone, Serialize, Deserialize, aitp::CapabilityMessage)]
#[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json", key = "a", kee = "b")]
struct Typo {
    points: u64,
}

fn main() {}
