//! Revenue share in exact arithmetic: the affiliates' cut of a price, split by weight.

use super::Offer;
use crate::{
    capability::payments::{Affiliate, AffiliateRole},
    money::Amount,
};

/// Why a revenue share cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    /// `affiliate_share_bps` is outside 0..=10000.
    #[error("affiliate_share_bps {0} is outside 0..=10000")]
    Bps(i64),
    /// An affiliate's weight is below 1.
    #[error("affiliate `{0}` has a weight below 1")]
    Weight(String),
    /// The amount has more decimal places than the token, or does not fit.
    #[error("{amount} is not a whole number of units with {decimals} decimals")]
    Units {
        /// The amount.
        amount: Amount,
        /// The token's decimals.
        decimals: u32,
    },
    /// The arithmetic would overflow 128 bits.
    #[error("the amounts are too large to split")]
    Overflow,
}

/// One affiliate's part of a [`RevenueSplit`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Part {
    /// The affiliate's id.
    pub id: String,
    /// Its role.
    pub role: AffiliateRole,
    /// Its weight (1 when the message names none).
    pub weight: u64,
    /// What it gets.
    pub amount: Amount,
}

/// A price split between the merchant and the affiliates. The parts always add up to
/// `share` exactly, and `share` plus `merchant` to the price.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevenueSplit {
    /// The affiliates' share together.
    pub share: Amount,
    /// What the merchant keeps.
    pub merchant: Amount,
    /// Each affiliate's part, in the order of [`affiliates`].
    pub parts: Vec<Part>,
}

/// The affiliates of an offer, in order: the quote's own (`revenue_share.affiliates`), then
/// for each wrapper the wrapper itself (weight 1) followed by the affiliates it added.
pub fn affiliates(offer: &Offer) -> Vec<Affiliate> {
    let mut all: Vec<Affiliate> = offer
        .quote()
        .revenue_share
        .as_ref()
        .and_then(|r| r.affiliates.clone())
        .unwrap_or_default();
    for w in offer.wrappers() {
        all.push(Affiliate::new(w.affiliate_id.clone(), w.role.clone()));
        all.extend(w.added_affiliates.iter().flatten().cloned());
    }
    all
}

/// Splits `total` (in a token of `decimals` decimal places) between the merchant and the
/// affiliates of `offer`, by the quote's `affiliate_share_bps` and the affiliates' weights.
///
/// The rule (this SDK's, the spec has none), in the token's smallest units:
///
/// 1. `share = floor(total × bps / 10000)`; the merchant keeps `total − share`, so rounding
///    never costs the merchant more than the quote says.
/// 2. Each affiliate gets `floor(share × weight / Σweights)`.
/// 3. The units left over (fewer than the number of affiliates) go one each to the
///    affiliates with the largest remainders `share × weight mod Σweights`, earlier
///    affiliates first on ties (the largest-remainder method).
///
/// So the parts always add up to `share` exactly. An offer without affiliates (or without
/// `revenue_share`) has a share of zero: nobody is there to receive it.
///
/// ```
/// use aitp::capability::payments::{Affiliate, AffiliateRole, PaymentOption, Quote, RevenueShare};
/// use aitp::sign::{Offer, split_revenue};
///
/// let quote = Quote::builder("q_1", "shop.near", "A mug")
///     .option(PaymentOption::near_payment_channel("10".parse()?, "USD", "usdc.near", "shop.near"))
///     .revenue_share(RevenueShare::new(1000)
///         .affiliate(Affiliate::new("a.near", AffiliateRole::Discovery))
///         .affiliate(Affiliate::new("b.near", AffiliateRole::Discovery))
///         .affiliate(Affiliate::new("c.near", AffiliateRole::Discovery)))
///     .build_unsigned();
/// let split = split_revenue(&"10".parse()?, 6, &Offer::from(quote))?;
/// assert_eq!(split.share.to_string(), "1.000000");
/// let parts: Vec<String> = split.parts.iter().map(|p| p.amount.to_string()).collect();
/// assert_eq!(parts, ["0.333334", "0.333333", "0.333333"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn split_revenue(
    total: &Amount,
    decimals: u32,
    offer: &Offer,
) -> Result<RevenueSplit, ShareError> {
    let units = total
        .to_minor_units(decimals)
        .ok_or_else(|| ShareError::Units {
            amount: total.clone(),
            decimals,
        })?;
    let bps = offer
        .quote()
        .revenue_share
        .as_ref()
        .map_or(0, |r| r.affiliate_share_bps);
    let bps = u32::try_from(bps)
        .ok()
        .filter(|b| *b <= 10_000)
        .ok_or(ShareError::Bps(bps))?;
    let affiliates = affiliates(offer);
    let mut weights = Vec::with_capacity(affiliates.len());
    for a in &affiliates {
        let w = a.weight.unwrap_or(1);
        weights.push(
            u64::try_from(w)
                .ok()
                .filter(|w| *w >= 1)
                .ok_or_else(|| ShareError::Weight(a.id.clone()))?,
        );
    }
    let (share, parts) = split_units(units, bps, &weights).ok_or(ShareError::Overflow)?;
    Ok(RevenueSplit {
        share: Amount::from_minor_units(share, decimals),
        merchant: Amount::from_minor_units(units - share, decimals),
        parts: affiliates
            .into_iter()
            .zip(weights)
            .zip(parts)
            .map(|((a, weight), units)| Part {
                id: a.id,
                role: a.role,
                weight,
                amount: Amount::from_minor_units(units, decimals),
            })
            .collect(),
    })
}

/// The rule of [`split_revenue`] on integers: the share of `total` at `bps` basis points,
/// and each weight's part of it. `None` on overflow. With no weights the share is zero.
pub fn split_units(total: u128, bps: u32, weights: &[u64]) -> Option<(u128, Vec<u128>)> {
    if weights.is_empty() {
        return Some((0, Vec::new()));
    }
    let share = total.checked_mul(u128::from(bps.min(10_000)))? / 10_000;
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let product = share.checked_mul(u128::from(w))?;
        parts.push(product / sum);
        remainders.push((product % sum, i));
    }
    let left = share - parts.iter().sum::<u128>();
    // Largest remainder first; on ties, the earlier affiliate.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(usize::try_from(left).ok()?) {
        parts[i] += 1;
    }
    Some((share, parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_wrapped_offer_shares_with_every_link() {
        let offer = Offer::from(super::super::tests::chain());
        // 12.50 USD at 300 bps = 0.375; finder (weight 2) + 3 wrappers + 3 friends (weight 1).
        let split = split_revenue(&"12.50".parse().unwrap(), 6, &offer).unwrap();
        assert_eq!(split.share, "0.375".parse().unwrap());
        assert_eq!(split.merchant, "12.125".parse().unwrap());
        assert_eq!(split.parts.len(), 7);
        assert_eq!(split.parts[0].amount, "0.09375".parse().unwrap());
        let sum = split
            .parts
            .iter()
            .fold(Amount::from_minor_units(0, 0), |a, p| {
                a.checked_add(&p.amount)
            });
        assert_eq!(sum, split.share);
        assert!(matches!(
            split_revenue(&"0.0000001".parse().unwrap(), 6, &offer),
            Err(ShareError::Units { .. })
        ));
    }

    proptest! {
        #[test]
        fn parts_always_sum_to_the_share(
            total in any::<u64>(),
            bps in 0u32..=10_000,
            weights in proptest::collection::vec(1u64..1_000_000, 0..12),
        ) {
            let (share, parts) = split_units(u128::from(total), bps, &weights).unwrap();
            prop_assert!(share <= u128::from(total));
            prop_assert_eq!(parts.len(), weights.len());
            if weights.is_empty() {
                prop_assert_eq!(share, 0);
            } else {
                prop_assert_eq!(share, u128::from(total) * u128::from(bps) / 10_000);
                prop_assert_eq!(parts.iter().sum::<u128>(), share);
                // Each part is within one unit of its exact weighted share.
                let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
                for (p, &w) in parts.iter().zip(&weights) {
                    let exact_floor = share * u128::from(w) / sum;
                    prop_assert!(*p == exact_floor || *p == exact_floor + 1);
                }
            }
        }
    }
}
