// Shapes #[derive(Capability)] does not take.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, JsonSchema, aitp::CapabilityMessage)]
#[aitp(capability = "https://loyalty.example/caps/points/v1.2.0/schema.json", key = "redeem_points")]
struct RedeemPoints {
    points: u64,
}

#[derive(aitp::Capability)]
struct NotAnEnum {
    redeem: RedeemPoints,
}

#[derive(aitp::Capability)]
enum Empty {}

#[derive(aitp::Capability)]
enum UnitVariant {
    Redeem(RedeemPoints),
    Nothing,
    Pair(RedeemPoints, RedeemPoints),
}

#[derive(aitp::Capability)]
enum Twice {
    Redeem(RedeemPoints),
    Again(RedeemPoints),
}

#[derive(aitp::Capability)]
enum Generic<T> {
    Redeem(T),
}

#[derive(aitp::Capability)]
#[aitp(capability = "https://loyalty.example/caps/points/latest/schema.json")]
enum NoVersion {
    Redeem(RedeemPoints),
}

#[derive(aitp::Capability)]
#[aitp(key = "redeem_points")]
enum KeyOnEnum {
    Redeem(RedeemPoints),
}

#[derive(aitp::Capability)]
#[aitp(titel = "Loyalty")]
enum Typo {
    Redeem(RedeemPoints),
}

// A variant that is not a capability message.
#[derive(aitp::Capability)]
enum NotAMessage {
    Redeem(RedeemPoints),
    Text(String),
}

fn main() {}
