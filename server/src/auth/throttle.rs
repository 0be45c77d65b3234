//! Slowing down password guessing. After [`MAX_FAILURES`] wrong passwords
//! in a row for one username, logins to that username are refused for
//! [`LOCKOUT`] without the password even being checked (so guessing also
//! stops costing argon2 time). A right password resets the count; so does
//! a quiet [`WINDOW`] without failures.
//!
//! Counted per username, not per address: a community office's workers
//! share one network address, and one mistyping colleague must not lock
//! out the rest. Kept in memory, per server process: a restart forgets it,
//! and with several processes an attacker gets `MAX_FAILURES` guesses per
//! process per lockout, still a few dozen an hour instead of thousands.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong passwords in a row that lock a username.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked username stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(5 * 60);
/// Failures further apart than this start the count over.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Usernames tracked before stale entries are dropped.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Failed logins by username.
#[derive(Debug)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Failures>>,
    max_failures: u32,
    lockout: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::with_limits(MAX_FAILURES, LOCKOUT)
    }
}

/// Usernames are matched without regard to case or surrounding spaces,
/// as the directory matches them.
fn key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl LoginThrottle {
    /// A throttle locking after `max_failures` for `lockout`.
    pub fn with_limits(max_failures: u32, lockout: Duration) -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
            max_failures: max_failures.max(1),
            lockout,
        }
    }

    /// `Err(seconds)` while `username` is locked: how long to wait.
    pub fn check(&self, username: &str) -> Result<(), u64> {
        let now = Instant::now();
        let failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match failures.get(&key(username)).and_then(|f| f.locked_until) {
            Some(until) if until > now => Err((until - now).as_secs().max(1)),
            _ => Ok(()),
        }
    }

    /// A wrong password (or unknown username) was given.
    pub fn failed(&self, username: &str) {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() >= PRUNE_AT {
            failures.retain(|_, f| {
                now.duration_since(f.last) < WINDOW || f.locked_until.is_some_and(|u| u > now)
            });
        }
        let entry = failures.entry(key(username)).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: None,
        });
        let expired = entry.locked_until.is_some_and(|u| u <= now);
        if expired || now.duration_since(entry.last) >= WINDOW {
            *entry = Failures {
                count: 0,
                last: now,
                locked_until: None,
            };
        }
        entry.count += 1;
        entry.last = now;
        if entry.count >= self.max_failures {
            entry.locked_until = Some(now + self.lockout);
        }
    }

    /// The right password was given: the count starts over.
    pub fn succeeded(&self, username: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&key(username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_and_unlocks_after_the_lockout() {
        let t = LoginThrottle::with_limits(3, Duration::from_millis(200));
        for _ in 0..2 {
            t.failed("Wang");
            assert_eq!(t.check("wang"), Ok(()), "below the limit");
        }
        t.failed(" WANG ");
        let wait = t.check("wang").expect_err("locked at the limit");
        assert_eq!(wait, 1, "at least a second is asked for");
        assert_eq!(t.check("li"), Ok(()), "other users are not locked");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(t.check("wang"), Ok(()), "unlocked after the lockout");
        t.failed("wang");
        assert_eq!(t.check("wang"), Ok(()), "the count started over");
    }

    #[test]
    fn a_right_password_resets_the_count() {
        let t = LoginThrottle::with_limits(3, Duration::from_secs(60));
        t.failed("wang");
        t.failed("wang");
        t.succeeded("wang");
        t.failed("wang");
        t.failed("wang");
        assert_eq!(t.check("wang"), Ok(()));
        t.failed("wang");
        assert!(t.check("wang").is_err());
    }
}
