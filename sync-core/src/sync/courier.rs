//! The thread that carries a sync's requests while the sync goes on
//! (`InFlight`): one per [`super::Client`], kept between requests.
//!
//! A thread started for each request waits for its first time slice
//! behind whatever is running: with both cores of this machine busy, a
//! millisecond at the median and up to four, against some 30 µs to wake a
//! thread that waits (BENCHMARKS.md, seventeenth session). A phone is busy
//! exactly when a sync runs, with the app and the sync's own work.
//!
//! A request given while the courier still carries one (two syncs sharing
//! a client) goes on a thread of its own, as before: nobody's request
//! waits behind another's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Marks the courier idle when dropped.
struct Idle(Arc<AtomicBool>);

impl Drop for Idle {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A kept thread and whether it is carrying a request now.
#[derive(Default)]
pub(crate) struct Courier {
    /// Where its jobs go, once started.
    jobs: Mutex<Option<Sender<Job>>>,
    /// Set while a job runs on it.
    busy: Arc<AtomicBool>,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier")
            .field("busy", &self.busy.load(Ordering::Relaxed))
            .finish()
    }
}

impl Courier {
    /// Run `job` on the kept thread, starting it the first time (again
    /// after a job panicked); on a thread of its own if the kept one is
    /// carrying another request.
    pub(crate) fn run(&self, job: impl FnOnce() + Send + 'static) {
        if self
            .busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            std::thread::spawn(job);
            return;
        }
        let busy = Idle(self.busy.clone());
        let job: Job = Box::new(move || {
            // Idle again after the job, also if it panics.
            let _busy = busy;
            job();
        });
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let job = match jobs.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                // Its thread is gone (a job panicked): a new one.
                Err(e) => e.0,
            },
            None => job,
        };
        let (tx, rx) = channel::<Job>();
        // The receiver is alive: this cannot fail.
        let _ = tx.send(job);
        // A thread that cannot be started fails as `std::thread::spawn`
        // does; the job's guard leaves the courier idle.
        std::thread::Builder::new()
            .name("gridsync-courier".into())
            // Ends when the client (every clone of it) is dropped.
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("failed to spawn thread");
        *jobs = Some(tx);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;
    use std::thread::ThreadId;
    use std::time::Duration;

    use super::Courier;

    /// Where a job ran: its thread's id and name.
    fn ran_on(courier: &Courier) -> (ThreadId, Option<String>) {
        let (tx, rx) = channel();
        courier.run(move || {
            let me = std::thread::current();
            let _ = tx.send((me.id(), me.name().map(str::to_owned)));
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the job ran")
    }

    /// Wait until the kept thread has finished its job.
    fn idle(courier: &Courier) {
        for _ in 0..1000 {
            if !courier.busy.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("the courier stayed busy");
    }

    /// Request after request goes on the same kept thread.
    #[test]
    fn requests_go_on_one_kept_thread() {
        let courier = Courier::default();
        let first = ran_on(&courier);
        assert_eq!(first.1.as_deref(), Some("gridsync-courier"));
        assert_ne!(first.0, std::thread::current().id());
        for _ in 0..3 {
            // The job before may still be finishing.
            idle(&courier);
            assert_eq!(ran_on(&courier), first);
        }
    }

    /// A request given while the courier carries another does not wait for
    /// it.
    #[test]
    fn a_second_request_does_not_wait_for_the_first() {
        let courier = Courier::default();
        let (release, held) = channel::<()>();
        let (started, running) = channel();
        courier.run(move || {
            let _ = started.send(());
            let _ = held.recv();
        });
        running
            .recv_timeout(Duration::from_secs(10))
            .expect("the first started");
        let second = ran_on(&courier);
        assert_ne!(second.1.as_deref(), Some("gridsync-courier"));
        release.send(()).expect("the first still waits");
    }

    /// A job that panics takes its thread with it; the next request gets a
    /// new one.
    #[test]
    fn a_panic_costs_the_next_request_nothing() {
        let courier = Courier::default();
        let before = ran_on(&courier);
        // On the kept thread, not beside it.
        idle(&courier);
        courier.run(|| panic!("a job that fails"));
        idle(&courier);
        let after = ran_on(&courier);
        assert_ne!(after.0, before.0);
        assert_eq!(after.1.as_deref(), Some("gridsync-courier"));
    }
}
