//! A sync's outcome, as `status` reads it.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use gridsync_core::sync::{self, Client, SyncOptions};

use super::store;

/// What a caller keeps of a failed sync is written in the same hold of the
/// store as the core's own record of it: when `keep` runs, `status`
/// already reads the error and nobody else can take the store, and after
/// the sync both are there. (A binding that wrote its typed form in a
/// hold of its own left a moment in which `status` read the core's text
/// alone, and told a cancelled sync as an internal error.)
#[test]
fn what_a_caller_keeps_of_a_failed_sync_is_written_with_the_error() {
    let shared = Mutex::new(store("w1"));
    // Nothing listens on port 9; the sync is cancelled before it asks.
    let client = Client::new("http://127.0.0.1:9").unwrap();
    let cancel = AtomicBool::new(true);
    let mut seen_in_keep = None;
    let result = sync::sync_keeping(
        &mut &shared,
        &client,
        &SyncOptions::default(),
        Some(&cancel),
        &mut |_| {},
        &mut |s, outcome| {
            let e = outcome.expect_err("the sync failed");
            // Another thread (a screen reading `status`) cannot take the
            // store now.
            let free = std::thread::scope(|t| t.spawn(|| shared.try_lock().is_ok()).join());
            seen_in_keep = Some((e.to_string(), sync::status(s)?.last_error, free.unwrap()));
            s.set_meta("binding.last_error", &e.to_string())
        },
    );
    let error = result.expect_err("cancelled").to_string();
    let (kept, recorded, free) = seen_in_keep.expect("keep was called");
    assert_eq!(kept, error);
    assert_eq!(recorded.as_deref(), Some(error.as_str()));
    assert!(
        !free,
        "the store was free to read while the outcome was kept"
    );
    let s = shared.lock().unwrap();
    assert_eq!(
        sync::status(&s).unwrap().last_error.as_deref(),
        Some(error.as_str())
    );
    assert_eq!(
        s.meta("binding.last_error").unwrap().as_deref(),
        Some(error.as_str())
    );
}
