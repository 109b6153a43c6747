//! Failed-login counting. Per process: a replica behind a load balancer
//! counts its own share, which still caps guessing at (replicas × limit)
//! per window (docs/SECURITY.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::clock::SharedClock;
use crate::{Error, Result};

/// Failures allowed per key in one window.
const LIMIT: u32 = 10;
const WINDOW_MS: i64 = 15 * 60 * 1000;
/// Keys kept before old windows are swept.
const MAX_KEYS: usize = 100_000;

#[derive(Clone)]
pub struct LoginThrottle {
    clock: SharedClock,
    failures: Arc<Mutex<HashMap<String, (u32, i64)>>>,
}

/// The keys a login attempt counts against: its user name and its address.
pub(super) fn keys(name: &str, address: Option<&str>) -> Vec<String> {
    let mut keys = vec![format!(
        "user:{}",
        name.chars().take(128).collect::<String>()
    )];
    if let Some(address) = address {
        keys.push(format!("addr:{address}"));
    }
    keys
}

impl LoginThrottle {
    pub fn new(clock: SharedClock) -> Self {
        LoginThrottle {
            clock,
            failures: Arc::default(),
        }
    }

    /// Refuses while any key is over the limit in its window.
    pub fn check(&self, keys: &[String]) -> Result<()> {
        let now = self.clock.now_ms();
        let failures = self.failures.lock().expect("throttle lock");
        for key in keys {
            if let Some(&(count, start)) = failures.get(key) {
                if count >= LIMIT && now - start < WINDOW_MS {
                    let retry_after_s = ((start + WINDOW_MS - now) / 1000).max(1) as u64;
                    return Err(Error::TooMany {
                        message: format!(
                            "too many failed logins; try again in {} minutes",
                            retry_after_s.div_ceil(60)
                        ),
                        retry_after_s,
                    });
                }
            }
        }
        Ok(())
    }

    pub fn failed(&self, keys: &[String]) {
        let now = self.clock.now_ms();
        let mut failures = self.failures.lock().expect("throttle lock");
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, (_, start)| now - *start < WINDOW_MS);
        }
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert((0, now));
            if now - entry.1 >= WINDOW_MS {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// A good password clears its user name's count (not its address's:
    /// one known account must not unlock guessing at others).
    pub fn succeeded(&self, keys: &[String]) {
        let mut failures = self.failures.lock().expect("throttle lock");
        if let Some(user_key) = keys.first() {
            failures.remove(user_key);
        }
    }
}
