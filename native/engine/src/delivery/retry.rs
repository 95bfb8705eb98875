//! The retry policy: which failed attempts are tried again, after how long, and what a batch
//! finally reports when it gives up.
//!
//! Pure and deterministic given a [`Jitter`] source, so it is unit-tested without any I/O.
//!
//! - Attempts per batch: `1 + max_retries`.
//! - Retried: connection errors, timeouts, 429 and 5xx. Not retried: TLS errors, 3xx
//!   (redirects are never followed), and 4xx other than 429.
//! - Backoff before retry `n` (1-based): uniform in `[0, 500 ms * 2^(n-1)]` ("full jitter"),
//!   the ceiling capped at [`RetryPolicy::max_backoff`].
//! - A `Retry-After` answer header (delta-seconds or HTTP-date) replaces the backoff when it is
//!   at most 30 s; beyond that the batch stops at once with [`SendError::RateLimited`].
//! - When attempts run out: 429 gives `RateLimited`, 5xx `HttpStatus(N)`, a timeout `Timeout`,
//!   a connection failure `ConnectError`.

use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::delivery::outcome::SendError;

/// Base of the exponential backoff: the ceiling before the first retry.
pub const BASE_DELAY: Duration = Duration::from_millis(500);

/// The longest `Retry-After` that is honoured; a longer one stops the batch with `RateLimited`.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The largest backoff ceiling, whatever the retry number.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What one HTTP attempt came to, as far as the retry policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The endpoint answered 2xx.
    Success,
    /// The endpoint answered a non-2xx status, possibly with a parsed `Retry-After`.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The `Retry-After` header, when present and parseable.
        retry_after: Option<Duration>,
    },
    /// The attempt did not complete within the per-attempt timeout.
    Timeout,
    /// The connection could not be made or broke (refused, reset, DNS, unreachable).
    ConnectError,
    /// The TLS handshake failed (unknown CA, wrong host name, bad `cacertfile`).
    TlsError,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Stop with this final result for the batch.
    Finish(Result<(), SendError>),
    /// Wait this long, then make another attempt.
    RetryAfter(Duration),
}

/// A source of random delays for the backoff; injectable so tests are deterministic.
pub trait Jitter {
    /// A delay uniformly distributed in `[0, ceiling]`.
    fn pick(&mut self, ceiling: Duration) -> Duration;
}

/// The production [`Jitter`]: uniform random delays from the thread-local RNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn pick(&mut self, ceiling: Duration) -> Duration {
        let max = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=max))
    }
}

/// The retry policy for the batches of one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first, for retryable failures only.
    pub max_retries: u32,
    /// Ceiling of the backoff before the first retry; doubled for each further retry.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The policy of the contract with `max_retries` retries: [`BASE_DELAY`], [`MAX_BACKOFF`],
    /// [`MAX_RETRY_AFTER`].
    pub fn new(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            base_delay: BASE_DELAY,
            max_backoff: MAX_BACKOFF,
            max_retry_after: MAX_RETRY_AFTER,
        }
    }

    /// The most attempts a batch gets: `1 + max_retries`.
    pub fn max_attempts(&self) -> u64 {
        1 + u64::from(self.max_retries)
    }

    /// The backoff ceiling before retry number `retry` (1-based):
    /// `base_delay * 2^(retry-1)`, capped at `max_backoff`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// Decides what follows an attempt, given how many attempts (this one included, so at
    /// least 1) the batch has made so far.
    pub fn decide(
        &self,
        attempts_made: u32,
        attempt: &Attempt,
        jitter: &mut dyn Jitter,
    ) -> Decision {
        let (final_error, retry_after) = match *attempt {
            Attempt::Success => return Decision::Finish(Ok(())),
            Attempt::TlsError => return Decision::Finish(Err(SendError::TlsError)),
            Attempt::Timeout => (SendError::Timeout, None),
            Attempt::ConnectError => (SendError::ConnectError, None),
            Attempt::Status {
                status,
                retry_after,
            } => match status {
                200..=299 => return Decision::Finish(Ok(())),
                429 => (SendError::RateLimited, retry_after),
                500..=599 => (SendError::HttpStatus(status), retry_after),
                _ => return Decision::Finish(Err(SendError::HttpStatus(status))),
            },
        };
        if u64::from(attempts_made) >= self.max_attempts() {
            return Decision::Finish(Err(final_error));
        }
        match retry_after {
            Some(wait) if wait > self.max_retry_after => {
                Decision::Finish(Err(SendError::RateLimited))
            }
            Some(wait) => Decision::RetryAfter(wait),
            None => Decision::RetryAfter(jitter.pick(self.backoff_ceiling(attempts_made.max(1)))),
        }
    }
}

/// Parses a `Retry-After` header value: delta-seconds (`120`) or an HTTP-date in any of the
/// three forms RFC 9110 has recipients accept (`Sun, 06 Nov 1994 08:49:37 GMT`), taken
/// relative to `now`; a date in the past means no wait. Anything else is `None` (and the
/// normal backoff applies).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // A huge number still means "longer than the cap".
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// Always picks the ceiling, and records what it was asked.
    #[derive(Default)]
    struct MaxJitter(Vec<Duration>);

    impl Jitter for MaxJitter {
        fn pick(&mut self, ceiling: Duration) -> Duration {
            self.0.push(ceiling);
            ceiling
        }
    }

    fn status(status: u16) -> Attempt {
        Attempt::Status {
            status,
            retry_after: None,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn success_finishes_ok() {
        let p = RetryPolicy::new(2);
        let mut j = MaxJitter::default();
        assert_eq!(
            p.decide(1, &Attempt::Success, &mut j),
            Decision::Finish(Ok(()))
        );
        assert_eq!(p.decide(1, &status(204), &mut j), Decision::Finish(Ok(())));
        assert!(j.0.is_empty());
    }

    #[test]
    fn backoff_doubles_with_full_jitter() {
        let p = RetryPolicy::new(5);
        let mut j = MaxJitter::default();
        for n in 1..=5 {
            assert!(matches!(
                p.decide(n, &Attempt::Timeout, &mut j),
                Decision::RetryAfter(_)
            ));
        }
        assert_eq!(j.0, vec![ms(500), ms(1000), ms(2000), ms(4000), ms(8000)]);
        assert_eq!(
            p.decide(6, &Attempt::Timeout, &mut j),
            Decision::Finish(Err(SendError::Timeout))
        );
    }

    #[test]
    fn backoff_ceiling_is_capped_and_never_overflows() {
        let p = RetryPolicy::new(u32::MAX);
        assert_eq!(p.backoff_ceiling(1), ms(500));
        assert_eq!(p.backoff_ceiling(7), MAX_BACKOFF);
        assert_eq!(p.backoff_ceiling(u32::MAX), MAX_BACKOFF);
        assert_eq!(p.max_attempts(), 1 + u64::from(u32::MAX));
    }

    #[test]
    fn random_jitter_stays_in_range() {
        let mut j = RandomJitter;
        for _ in 0..1000 {
            assert!(j.pick(ms(500)) <= ms(500));
        }
        assert_eq!(j.pick(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn retryable_failures_and_what_they_end_as() {
        let p = RetryPolicy::new(1);
        let mut j = MaxJitter::default();
        let cases = [
            (Attempt::Timeout, SendError::Timeout),
            (Attempt::ConnectError, SendError::ConnectError),
            (status(429), SendError::RateLimited),
            (status(500), SendError::HttpStatus(500)),
            (status(503), SendError::HttpStatus(503)),
            (status(599), SendError::HttpStatus(599)),
        ];
        for (attempt, end) in cases {
            assert_eq!(p.decide(1, &attempt, &mut j), Decision::RetryAfter(ms(500)));
            assert_eq!(p.decide(2, &attempt, &mut j), Decision::Finish(Err(end)));
        }
    }

    #[test]
    fn no_retries_means_one_attempt() {
        let p = RetryPolicy::new(0);
        let mut j = MaxJitter::default();
        assert_eq!(
            p.decide(1, &status(503), &mut j),
            Decision::Finish(Err(SendError::HttpStatus(503)))
        );
        assert_eq!(
            p.decide(1, &Attempt::ConnectError, &mut j),
            Decision::Finish(Err(SendError::ConnectError))
        );
    }

    #[test]
    fn not_retried() {
        let p = RetryPolicy::new(3);
        let mut j = MaxJitter::default();
        for s in [301, 302, 304, 307, 400, 401, 403, 404, 413, 100] {
            assert_eq!(
                p.decide(1, &status(s), &mut j),
                Decision::Finish(Err(SendError::HttpStatus(s)))
            );
        }
        assert_eq!(
            p.decide(1, &Attempt::TlsError, &mut j),
            Decision::Finish(Err(SendError::TlsError))
        );
        assert!(j.0.is_empty());
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = RetryPolicy::new(2);
        let mut j = MaxJitter::default();
        let with = |status, secs| Attempt::Status {
            status,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            p.decide(1, &with(429, 1), &mut j),
            Decision::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(
            p.decide(1, &with(503, 30), &mut j),
            Decision::RetryAfter(Duration::from_secs(30))
        );
        assert_eq!(
            p.decide(1, &with(429, 0), &mut j),
            Decision::RetryAfter(Duration::ZERO)
        );
        assert_eq!(
            p.decide(1, &with(429, 31), &mut j),
            Decision::Finish(Err(SendError::RateLimited))
        );
        assert_eq!(
            p.decide(1, &with(503, 120), &mut j),
            Decision::Finish(Err(SendError::RateLimited))
        );
        // Retry-After on a non-retryable status changes nothing.
        assert_eq!(
            p.decide(1, &with(400, 1), &mut j),
            Decision::Finish(Err(SendError::HttpStatus(400)))
        );
        // Out of attempts: the status decides.
        assert_eq!(
            p.decide(3, &with(503, 1), &mut j),
            Decision::Finish(Err(SendError::HttpStatus(503)))
        );
        assert_eq!(
            p.decide(3, &with(429, 1), &mut j),
            Decision::Finish(Err(SendError::RateLimited))
        );
        assert!(j.0.is_empty());
    }

    #[test]
    fn parses_retry_after_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in ["", "-1", "1.5", "soon", "1 2", "+3"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_retry_after_http_dates() {
        // 1994-11-06T08:49:37Z
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            parse_retry_after(
                "Sun, 06 Nov 1994 08:49:37 GMT",
                at - Duration::from_secs(10)
            ),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after(
                "Sun, 06 Nov 1994 08:49:37 GMT",
                at + Duration::from_secs(10)
            ),
            Some(Duration::ZERO)
        );
        // 2000-02-29T00:00:00Z (leap day) = 951782400
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(
            parse_retry_after("Tue, 29 Feb 2000 00:00:05 GMT", leap),
            Some(Duration::from_secs(5))
        );
        // The two obsolete forms, which RFC 9110 has recipients accept too.
        for obsolete in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(
                parse_retry_after(obsolete, at - Duration::from_secs(3)),
                Some(Duration::from_secs(3)),
                "{obsolete:?}"
            );
        }
        for bad in [
            "Mon, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, at), None, "{bad:?}");
        }
    }
}
