//! Retries: a bounded number of attempts with capped exponential backoff and jitter,
//! `Retry-After` honoured (up to a cap). Sleeping goes through [`Sleeper`] so tests can
//! record the waits instead of waiting.

use std::time::Duration;

use crate::agent::ModelError;

/// `secs` seconds as a duration, saturating (never panics on huge or odd values).
pub fn secs(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

/// Waits between attempts.
pub trait Sleeper: Send {
    /// Waits `d`.
    fn sleep(&mut self, d: Duration);
}

/// Really sleeps.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// How often and how long to retry.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per query, the first included (≥ 1).
    pub max_attempts: u32,
    /// Attempts when the server answers with an unusable body (malformed JSON, no
    /// choices); these count towards `max_attempts` too.
    pub bad_response_attempts: u32,
    /// Upper bound of the first backoff.
    pub initial: Duration,
    /// Upper bound of any backoff.
    pub max: Duration,
    /// Longest `Retry-After` honoured.
    pub retry_after_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            bad_response_attempts: 3,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            retry_after_max: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Bounds `[low, high]` of the backoff before retry number `retry` (1 = the first
    /// retry): `high = min(max, initial · 2^(retry−1))`, `low = high / 2`.
    pub fn backoff_bounds(&self, retry: u32) -> (Duration, Duration) {
        let factor = 2f64.powi(retry.saturating_sub(1).min(60) as i32);
        let high = self.initial.as_secs_f64() * factor;
        let high = secs(high.min(self.max.as_secs_f64()));
        (high / 2, high)
    }

    /// The wait before retry number `retry`: the server's `Retry-After` (capped at
    /// `retry_after_max`) when it sent one, else a jittered backoff within
    /// [`backoff_bounds`](Self::backoff_bounds).
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>, jitter: &mut Jitter) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.retry_after_max);
        }
        let (low, high) = self.backoff_bounds(retry);
        low + (high - low).mul_f64(jitter.unit())
    }
}

/// A small deterministic random source for jitter (splitmix64).
#[derive(Clone, Debug)]
pub struct Jitter(u64);

impl Jitter {
    /// A fixed seed (tests).
    pub fn seeded(seed: u64) -> Jitter {
        Jitter(seed)
    }

    /// Seeded from the clock and the process id, so parallel agents do not retry in step.
    pub fn from_entropy() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Jitter(t ^ (u64::from(std::process::id()) << 32))
    }

    /// A number in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Parses a `Retry-After` value given in seconds (`7`, `1.5`). HTTP dates are not
/// supported (the backoff applies instead).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let s: f64 = value.trim().parse().ok()?;
    (s.is_finite() && s >= 0.0).then(|| secs(s))
}

/// What kind of failure a retryable attempt had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryClass {
    /// Rate limit, server error, connection failure, timeout.
    Transient,
    /// A 2xx answer whose body cannot be used.
    BadResponse,
}

/// The result of one attempt.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Success.
    Done(T),
    /// A failure worth another attempt.
    Retry {
        /// Its kind.
        class: RetryClass,
        /// What happened, for the log and the final error.
        reason: String,
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// A failure that no retry can fix.
    Fail(ModelError),
}

/// Runs `attempt` (given the 1-based attempt number) until it succeeds, fails for good,
/// or the attempts run out (then [`ModelError::Api`]). `log` receives one line per retry.
pub fn run<T>(
    policy: &RetryPolicy,
    sleeper: &mut dyn Sleeper,
    jitter: &mut Jitter,
    log: &mut dyn FnMut(&str),
    mut attempt: impl FnMut(u32) -> Outcome<T>,
) -> Result<T, ModelError> {
    let max = policy.max_attempts.max(1);
    let mut bad_responses = 0;
    let mut n = 1;
    loop {
        match attempt(n) {
            Outcome::Done(v) => return Ok(v),
            Outcome::Fail(e) => return Err(e),
            Outcome::Retry {
                class,
                reason,
                retry_after,
            } => {
                if class == RetryClass::BadResponse {
                    bad_responses += 1;
                }
                let limit_hit = if class == RetryClass::BadResponse
                    && bad_responses >= policy.bad_response_attempts.max(1)
                {
                    Some(format!(
                        "{bad_responses} unusable responses (bad_response_attempts = {})",
                        policy.bad_response_attempts
                    ))
                } else if n >= max {
                    Some(format!("{n} attempts (max_attempts = {max})"))
                } else {
                    None
                };
                if let Some(what) = limit_hit {
                    return Err(ModelError::Api(format!("{reason}; gave up after {what}")));
                }
                let wait = policy.wait(n, retry_after, jitter);
                log(&format!(
                    "{reason}; retrying in {:.1} s (attempt {} of {max})",
                    wait.as_secs_f64(),
                    n + 1
                ));
                sleeper.sleep(wait);
                n += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Record(Vec<Duration>);
    impl Sleeper for Record {
        fn sleep(&mut self, d: Duration) {
            self.0.push(d);
        }
    }

    fn retry(reason: &str) -> Outcome<()> {
        Outcome::Retry {
            class: RetryClass::Transient,
            reason: reason.into(),
            retry_after: None,
        }
    }

    #[test]
    fn backoff_doubles_within_bounds_and_is_capped() {
        let p = RetryPolicy {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(10),
            ..Default::default()
        };
        assert_eq!(
            p.backoff_bounds(1),
            (Duration::from_secs(1), Duration::from_secs(2))
        );
        assert_eq!(
            p.backoff_bounds(3),
            (Duration::from_secs(4), Duration::from_secs(8))
        );
        assert_eq!(
            p.backoff_bounds(30),
            (Duration::from_secs(5), Duration::from_secs(10))
        );
        let mut j = Jitter::seeded(7);
        for r in 1..40 {
            let (lo, hi) = p.backoff_bounds(r);
            let w = p.wait(r, None, &mut j);
            assert!(lo <= w && w <= hi, "{w:?} not in {lo:?}..{hi:?}");
        }
        assert_eq!(
            p.wait(1, Some(Duration::from_secs(500)), &mut j),
            Duration::from_secs(120)
        );
        assert_eq!(secs(1e300), Duration::MAX);
        assert_eq!(secs(f64::NAN), Duration::ZERO);
        let huge = RetryPolicy {
            initial: Duration::MAX,
            max: Duration::MAX,
            ..Default::default()
        };
        assert!(huge.backoff_bounds(64).1 > Duration::from_secs(1));
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let p = RetryPolicy {
            max_attempts: 4,
            ..Default::default()
        };
        let mut s = Record(Vec::new());
        let mut calls = 0;
        let r: Result<(), _> = run(&p, &mut s, &mut Jitter::seeded(1), &mut |_| {}, |_| {
            calls += 1;
            retry("HTTP 500")
        });
        assert_eq!(calls, 4);
        assert_eq!(s.0.len(), 3);
        assert!(
            matches!(r, Err(ModelError::Api(m)) if m.contains("HTTP 500") && m.contains("4 attempts"))
        );
    }

    #[test]
    fn retry_after_is_honoured_and_fail_is_final() {
        let p = RetryPolicy::default();
        let mut s = Record(Vec::new());
        let r = run(
            &p,
            &mut s,
            &mut Jitter::seeded(1),
            &mut |_| {},
            |n| match n {
                1 => Outcome::Retry {
                    class: RetryClass::Transient,
                    reason: "429".into(),
                    retry_after: Some(Duration::from_secs(3)),
                },
                _ => Outcome::Done(n),
            },
        );
        assert_eq!(r.unwrap(), 2);
        assert_eq!(s.0, vec![Duration::from_secs(3)]);
        let r: Result<(), _> = run(&p, &mut s, &mut Jitter::seeded(1), &mut |_| {}, |_| {
            Outcome::Fail(ModelError::ContextWindow("x".into()))
        });
        assert!(matches!(r, Err(ModelError::ContextWindow(_))));
        assert_eq!(
            parse_retry_after(" 2.5 "),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
