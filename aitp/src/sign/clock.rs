//! Time for quote expiry: an injectable clock and a stated skew.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};

use crate::capability::payments::Quote;

/// Where "now" comes from, so that expiry can be tested without waiting and run against a
/// trusted time source.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that says what it is told; shared by its clones, so a test can move time on
/// under a running [`PaymentGate`](super::PaymentGate).
#[derive(Debug, Clone)]
pub struct FixedClock(Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    /// A clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(now)))
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How far past its `expiration` a quote is still honoured by default: 60 seconds, for the
/// clocks of merchant and payer disagreeing, and for the payment's time in transit.
pub const DEFAULT_SKEW: Duration = Duration::from_secs(60);

/// Why a quote is no longer payable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpiryError {
    /// `now` is later than `expiration` plus the skew.
    #[error("quote expired at {expiration} (now {now}, skew {skew_seconds}s)")]
    Expired {
        /// The quote's expiration.
        expiration: DateTime<Utc>,
        /// The time checked.
        now: DateTime<Utc>,
        /// The skew allowed, in seconds.
        skew_seconds: u64,
    },
    /// The `expiration` is not an RFC 3339 date-time, so it cannot be honoured.
    #[error("quote.expiration `{0}` is not an RFC 3339 date-time")]
    Unreadable(String),
}

/// Checks that `quote` may still be paid at `now`: it has no `expiration`, or `now` is at
/// most `skew` past it. A quote whose expiration cannot be read is refused rather than
/// treated as never expiring.
pub fn check_expiry(now: DateTime<Utc>, skew: Duration, quote: &Quote) -> Result<(), ExpiryError> {
    let Some(text) = quote.expiration.as_deref() else {
        return Ok(());
    };
    let expiration = DateTime::parse_from_rfc3339(text)
        .map_err(|_| ExpiryError::Unreadable(text.into()))?
        .with_timezone(&Utc);
    let skew_delta = chrono::TimeDelta::from_std(skew).unwrap_or(chrono::TimeDelta::MAX);
    let deadline = expiration
        .checked_add_signed(skew_delta)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if now > deadline {
        return Err(ExpiryError::Expired {
            expiration,
            now,
            skew_seconds: skew.as_secs(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_honours_the_skew_exactly() {
        let quote = super::super::tests::quote(); // expires 2030-01-01T00:00:00Z
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let skew = Duration::from_secs(60);
        assert!(check_expiry(at("2029-12-31T23:59:59Z"), skew, &quote).is_ok());
        assert!(check_expiry(at("2030-01-01T00:01:00Z"), skew, &quote).is_ok());
        assert!(matches!(
            check_expiry(at("2030-01-01T00:01:01Z"), skew, &quote),
            Err(ExpiryError::Expired {
                skew_seconds: 60,
                ..
            })
        ));
        let mut bad = quote.clone();
        bad.expiration = Some("tomorrow".into());
        assert_eq!(
            check_expiry(at("2000-01-01T00:00:00Z"), skew, &bad),
            Err(ExpiryError::Unreadable("tomorrow".into()))
        );
        bad.expiration = None;
        assert!(check_expiry(DateTime::<Utc>::MAX_UTC, skew, &bad).is_ok());
        let clock = FixedClock::new(at("2030-01-02T00:00:00Z"));
        assert!(check_expiry(clock.now(), skew, &quote).is_err());
        clock.set(at("2029-01-01T00:00:00Z"));
        assert!(check_expiry(clock.now(), skew, &quote).is_ok());
    }
}
