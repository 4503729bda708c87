//! Account quotas: the credit left (in runs) and the rate limit on work-creating requests.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Runs the account can still pay for; `None` is unlimited.
#[derive(Debug)]
pub(crate) struct Credits(Mutex<Option<u64>>);

impl Credits {
    pub(crate) fn new(runs: Option<u64>) -> Credits {
        Credits(Mutex::new(runs))
    }

    pub(crate) fn set(&self, runs: Option<u64>) {
        *self.lock() = runs;
    }

    pub(crate) fn get(&self) -> Option<u64> {
        *self.lock()
    }

    /// Takes credit for `runs` runs, all or nothing: `Err` carries what is left.
    pub(crate) fn reserve(&self, runs: u64) -> Result<(), u64> {
        let mut left = self.lock();
        match *left {
            None => Ok(()),
            Some(n) if n >= runs => {
                *left = Some(n - runs);
                Ok(())
            }
            Some(n) => Err(n),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A token bucket: capacity `per_minute`, refilled at `per_minute / 60` tokens a second.
#[derive(Debug)]
pub(crate) struct RateLimit(Mutex<Bucket>);

#[derive(Debug)]
struct Bucket {
    per_minute: Option<u32>,
    tokens: f64,
    refilled_at: Instant,
}

impl RateLimit {
    pub(crate) fn new(per_minute: Option<u32>) -> RateLimit {
        RateLimit(Mutex::new(Bucket::full(per_minute)))
    }

    /// Changes the limit; the bucket starts full.
    pub(crate) fn set(&self, per_minute: Option<u32>) {
        *self.lock() = Bucket::full(per_minute);
    }

    pub(crate) fn get(&self) -> Option<u32> {
        self.lock().per_minute
    }

    /// Takes a token, or says how long until one is available.
    pub(crate) fn take(&self) -> Result<(), Duration> {
        let mut bucket = self.lock();
        let Some(per_minute) = bucket.per_minute else {
            return Ok(());
        };
        let capacity = f64::from(per_minute);
        let per_sec = capacity / 60.0;
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        if per_sec <= 0.0 {
            // A limit of zero never refills; advertise a minute.
            return Err(Duration::from_secs(60));
        }
        Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Bucket {
    fn full(per_minute: Option<u32>) -> Bucket {
        Bucket {
            per_minute,
            tokens: per_minute.map_or(0.0, f64::from),
            refilled_at: Instant::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_are_reserved_all_or_nothing() {
        let credits = Credits::new(Some(5));
        assert_eq!(credits.reserve(3), Ok(()));
        assert_eq!(credits.reserve(3), Err(2), "nothing taken when short");
        assert_eq!(credits.get(), Some(2));
        assert_eq!(credits.reserve(2), Ok(()));
        credits.set(None);
        assert_eq!(credits.reserve(1_000_000), Ok(()));
    }

    #[test]
    fn an_empty_bucket_says_how_long_until_the_next_token() {
        let limit = RateLimit::new(Some(60));
        for _ in 0..60 {
            assert!(limit.take().is_ok());
        }
        let wait = limit.take().unwrap_err();
        // One token a second; a little of it may have refilled already.
        assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        limit.set(None);
        assert!(limit.take().is_ok());
    }
}
