// A capability URL must carry a semantic version.
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, aitp::CapabilityMessage)]
#[aitp(capability = "https://loyalty.example/caps/points/schema.json", key = "redeem_points")]
struct RedeemPoints {
    points: u64,
}

fn main() {}
