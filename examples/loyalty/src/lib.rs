//! The loyalty-points capability, a custom AITP capability declared as Rust types, and the
//! loyalty desk: an agent written with `#[aitp::agent]` that serves it.
//!
//! Each message is a struct deriving `CapabilityMessage` under the capability's URL; the
//! `Loyalty` enum deriving `Capability` declares the whole capability, whose `schema.json` is
//! `Loyalty::schema()` (printed by `cargo run -p aitp-examples --example capability_schema`).
//! Doc comments become the schema's descriptions, `schemars` attributes its rules.
//!
//! `cargo run -p example-loyalty` (`src/main.rs`) serves the desk and talks to it over HTTP.

use std::{collections::HashMap, sync::Mutex};

use aitp::{agent::ThreadCtx, capability::Capability as _, thread::Principal};
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

/// Why points cannot be spent; the SDK sends it to the customer as an `error` message.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoyaltyError {
    /// The account holds fewer points than the customer wants to spend.
    NotEnough {
        /// The loyalty account.
        account: String,
        /// The points it holds.
        has: u64,
        /// The points asked for.
        wants: u64,
    },
}

impl std::fmt::Display for LoyaltyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotEnough {
                account,
                has,
                wants,
            } => write!(f, "account {account} holds {has} points, not {wants}"),
        }
    }
}

/// The loyalty desk: balances per account.
#[derive(Debug, Default)]
pub struct LoyaltyDesk {
    balances: Mutex<HashMap<String, u64>>,
}

impl LoyaltyDesk {
    /// A desk whose accounts start with these balances.
    pub fn with_balances<'a>(balances: impl IntoIterator<Item = (&'a str, u64)>) -> Self {
        let balances = balances
            .into_iter()
            .map(|(account, points)| (account.to_owned(), points))
            .collect();
        Self {
            balances: Mutex::new(balances),
        }
    }
}

#[aitp::agent(actor_id = "loyalty-desk")]
impl LoyaltyDesk {
    /// `request_balance`: a plain (sync) method is fine.
    #[aitp::handler]
    fn balance(&self, ask: RequestBalance) -> PointsBalance {
        let points = self.balances.lock().unwrap().get(&ask.account).copied();
        PointsBalance {
            account: ask.account,
            points: points.unwrap_or(0),
            redeemed: None,
        }
    }

    /// `redeem_points`: extractors (here the thread context and the principal) come first,
    /// the payload last.
    #[aitp::handler]
    async fn redeem(
        &self,
        cx: ThreadCtx,
        who: Principal,
        redeem: RedeemPoints,
    ) -> Result<Loyalty, LoyaltyError> {
        println!(
            "  [desk] {who} redeems {} points of {} in {}",
            redeem.points,
            redeem.account,
            cx.thread_id()
        );
        let mut balances = self.balances.lock().unwrap();
        let balance = balances.entry(redeem.account.clone()).or_insert(0);
        if *balance < redeem.points {
            return Err(LoyaltyError::NotEnough {
                account: redeem.account,
                has: *balance,
                wants: redeem.points,
            });
        }
        *balance -= redeem.points;
        Ok(Loyalty::Balance(PointsBalance {
            account: redeem.account,
            points: *balance,
            redeemed: Some(redeem.points),
        }))
    }

    /// Text: say what the desk understands.
    #[aitp::on_text]
    fn help(&self, _text: String) -> String {
        format!(
            "I speak {}: send request_balance or redeem_points.",
            Loyalty::SCHEMA_URL
        )
    }
}
