//! The retry policy: what is safe to send again, and when.

use std::time::Duration;

use reqwest::{Method, StatusCode};

/// When a failed request is sent again.
///
/// Only what cannot do harm twice is retried:
///
/// - a request that never reached the server (connection refused, unreachable): any method;
/// - `429 Too Many Requests`: any method, since the server says it did not process it;
/// - `500`, `502`, `503`, `504`, timeouts and answers cut short: only idempotent methods
///   (`GET`, `HEAD`, `DELETE`, `PUT`, `OPTIONS`) — a `POST` may have created a message or a run.
///
/// The wait is the server's `Retry-After` (seconds or an HTTP date) when it sends one (up to
/// [`RetryPolicy::max_retry_after`]; a longer one is not waited for: the error is returned with
/// it), otherwise an exponential backoff from [`RetryPolicy::initial_backoff`] to
/// [`RetryPolicy::max_backoff`].
///
/// ```
/// use std::time::Duration;
/// use aitp_client::RetryPolicy;
/// let policy = RetryPolicy::new(5).initial_backoff(Duration::from_millis(50));
/// assert_eq!(policy.max_retries, 5);
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Three retries, 200 ms doubling up to 5 s, `Retry-After` up to 60 s.
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The default policy with `max_retries` retries.
    pub fn new(max_retries: u32) -> Self {
        Self {
            max_retries,
            ..Self::default()
        }
    }

    /// Never retry.
    pub fn none() -> Self {
        Self::new(0)
    }

    /// Sets the first backoff.
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets the longest backoff.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Sets the longest `Retry-After` honoured.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// The backoff before retry number `attempt` (0-based), with a little jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_backoff);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // Up to 10% more, so that clients that failed together do not retry together.
        base + base.mul_f64(f64::from(nanos % 100) / 1000.0)
    }

    /// How long to wait before retrying a request answered with `status`, or `None`.
    pub(crate) fn after_status(
        &self,
        attempt: u32,
        method: &Method,
        status: StatusCode,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let retryable = match status.as_u16() {
            429 => true,
            500 | 502 | 503 | 504 => idempotent(method),
            _ => false,
        };
        if !retryable {
            return None;
        }
        match retry_after {
            Some(d) if d > self.max_retry_after => None,
            Some(d) => Some(d),
            None => Some(self.backoff(attempt)),
        }
    }

    /// How long to wait before retrying a request that failed in transport, or `None`.
    /// `sent` is false when the request cannot have reached the server.
    pub(crate) fn after_transport(
        &self,
        attempt: u32,
        method: &Method,
        sent: bool,
    ) -> Option<Duration> {
        if attempt >= self.max_retries || (sent && !idempotent(method)) {
            return None;
        }
        Some(self.backoff(attempt))
    }
}

/// Methods that can be sent twice without harm.
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::DELETE | Method::PUT | Method::OPTIONS
    )
}

/// Reads `Retry-After`: delay-seconds, or an HTTP date (IMF-fixdate).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs));
        }
    }
    let date = chrono_like_http_date(value)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(date.saturating_sub(now)))
}

/// Unix seconds of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
fn chrono_like_http_date(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let (day, year): (u64, u64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<u64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    let [h, mi, se] = hms.as_slice() else {
        return None;
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(
            chrono_like_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn only_safe_requests_are_retried() {
        let p = RetryPolicy::new(2);
        let s500 = StatusCode::INTERNAL_SERVER_ERROR;
        assert!(p.after_status(0, &Method::GET, s500, None).is_some());
        assert!(p.after_status(0, &Method::POST, s500, None).is_none());
        assert!(p.after_status(2, &Method::GET, s500, None).is_none());
        let s429 = StatusCode::TOO_MANY_REQUESTS;
        let one = Some(Duration::from_secs(1));
        assert_eq!(p.after_status(0, &Method::POST, s429, one), one);
        assert!(
            p.after_status(0, &Method::POST, s429, Some(Duration::from_secs(600)))
                .is_none()
        );
        assert!(
            p.after_status(0, &Method::GET, StatusCode::NOT_FOUND, None)
                .is_none()
        );
        assert!(p.after_transport(0, &Method::POST, false).is_some());
        assert!(p.after_transport(0, &Method::POST, true).is_none());
        assert!(p.after_transport(0, &Method::GET, true).is_some());
    }
}
