//! The background runtime that runs sends, and the bookkeeping around it: a bound on sends in
//! flight, cancellation by job key, and exactly one completion callback per accepted send.
//!
//! The Tokio runtime is created on the first [`Dispatcher::submit`], so a node with reporting
//! off has no extra thread. It has one worker thread and a blocking pool of at most
//! [`MAX_BLOCKING_THREADS`] threads (client building, DNS), all named [`THREAD_NAME`].

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use once_cell::sync::OnceCell;
use thiserror::Error;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

use crate::delivery::client::ClientCache;
use crate::delivery::outcome::{SendError, TrackingResult};
use crate::delivery::sender;
use crate::wire::ga4::Mode;
use crate::wire::plan::SendPlan;

/// Default bound on sends in flight.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// Most threads of the runtime's blocking pool.
pub const MAX_BLOCKING_THREADS: usize = 2;

/// Name of the runtime's threads.
pub const THREAD_NAME: &str = "msm-worker";

/// Why a send was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DispatchError {
    /// As many sends as allowed are in flight.
    #[error("overloaded")]
    Overloaded,
    /// The background runtime could not be created.
    #[error("cannot start the background runtime: {0}")]
    Runtime(String),
}

/// Cancellation tokens of the jobs in flight, by job key (several jobs may share a key).
type Registry = Mutex<HashMap<Vec<u8>, Vec<(u64, CancellationToken)>>>;

/// Runs sends on one lazily created background runtime. `Sync`: meant to live in a `static`.
#[derive(Debug)]
pub struct Dispatcher {
    runtime: OnceCell<Runtime>,
    clients: Arc<ClientCache>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: AtomicUsize,
    jobs: Arc<Registry>,
    /// Every send's token is a child of this one. `cancel_all` puts a new one in its place
    /// and cancels the old one on the runtime, so the caller does O(1) work however many
    /// sends are in flight (thousands of wake-ups took milliseconds of a scheduler).
    generation: Mutex<CancellationToken>,
    next_job: AtomicU64,
    panic_next: AtomicBool,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Dispatcher {
    /// A dispatcher with no runtime yet (no thread is created until the first submit) and the
    /// default bound of [`DEFAULT_MAX_IN_FLIGHT`].
    pub fn new() -> Self {
        Dispatcher {
            runtime: OnceCell::new(),
            clients: Arc::new(ClientCache::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: AtomicUsize::new(DEFAULT_MAX_IN_FLIGHT),
            jobs: Arc::new(Mutex::new(HashMap::new())),
            generation: Mutex::new(CancellationToken::new()),
            next_job: AtomicU64::new(0),
            panic_next: AtomicBool::new(false),
        }
    }

    /// Sets the bound on sends in flight (at least 1). Sends already accepted are unaffected.
    pub fn set_max_in_flight(&self, n: usize) {
        self.max_in_flight.store(n.max(1), Ordering::Relaxed);
    }

    /// The bound on sends in flight.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::Relaxed)
    }

    /// Sends accepted whose `on_done` has not been called yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Whether the background runtime has been created.
    pub fn is_started(&self) -> bool {
        self.runtime.get().is_some()
    }

    /// Starts sending `plan` in the background and returns at once (no I/O, no client
    /// building, no blocking; only the very first call creates the runtime).
    ///
    /// On success `on_done` is called exactly once, on a runtime thread, with one result per
    /// tracking id — also when the send is cancelled (`Cancelled`) or its task panics
    /// (`Internal`). The in-flight slot is released and `key` unregistered before the call.
    /// On error `on_done` is dropped uncalled.
    pub fn submit<F>(&self, key: Vec<u8>, plan: SendPlan, on_done: F) -> Result<(), DispatchError>
    where
        F: FnOnce(Vec<TrackingResult>) + Send + 'static,
    {
        let runtime = self.runtime()?;
        let max = self.max_in_flight();
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| DispatchError::Overloaded)?;

        let job = self.next_job.fetch_add(1, Ordering::Relaxed);
        let cancel = lock(&self.generation).child_token();
        lock(&self.jobs)
            .entry(key.clone())
            .or_default()
            .push((job, cancel.clone()));

        let completion = Completion {
            on_done: Some(Box::new(on_done)),
            fallback: Fallback::of(&plan),
            in_flight: self.in_flight.clone(),
            jobs: self.jobs.clone(),
            key,
            job,
        };
        let clients = self.clients.clone();
        let panic = self.panic_next.swap(false, Ordering::AcqRel);
        // One task per send: a panic inside it is caught where it happens, not by a second
        // task's join handle.
        runtime.spawn(async move {
            // Dropping this task (runtime shutdown) drops the completion, which still
            // answers, and cancels the send's token.
            let _stop = cancel.clone().drop_guard();
            let send = async move {
                if panic {
                    panic!("test-injected panic in a send task");
                }
                sender::execute(plan, &clients, cancel).await
            };
            let results = match AssertUnwindSafe(send).catch_unwind().await {
                Ok(results) => results,
                Err(_) => completion.fallback.results(SendError::Internal),
            };
            completion.finish(results);
        });
        Ok(())
    }

    /// Cancels the sends submitted under `key`; each still answers, with `cancelled` for the
    /// tracking ids not finished. Unknown keys are ignored.
    pub fn cancel(&self, key: &[u8]) {
        if let Some(jobs) = lock(&self.jobs).get(key) {
            for (_, token) in jobs {
                token.cancel();
            }
        }
    }

    /// Cancels every send in flight; returns at once, the sends are stopped on the runtime's
    /// thread right after (each still answers, `cancelled`). Later submits are unaffected.
    pub fn cancel_all(&self) {
        let old = std::mem::replace(&mut *lock(&self.generation), CancellationToken::new());
        match self.runtime.get() {
            // The wake-ups of every send happen on the runtime's thread, not the caller's.
            Some(runtime) => {
                runtime.spawn(async move { old.cancel() });
            }
            None => old.cancel(),
        }
    }

    /// Test hook: makes the next submitted send's task panic, to check that `on_done` is still
    /// called exactly once (with `internal_error`).
    #[doc(hidden)]
    pub fn panic_next_task_for_tests(&self) {
        self.panic_next.store(true, Ordering::Release);
    }

    fn runtime(&self) -> Result<&Runtime, DispatchError> {
        self.runtime
            .get_or_try_init(|| build_runtime().map_err(|e| DispatchError::Runtime(e.to_string())))
    }
}

/// A runtime as the dispatcher runs sends on: one worker thread and a blocking pool of at most
/// [`MAX_BLOCKING_THREADS`], all named [`THREAD_NAME`]. Public so that benchmarks can measure
/// a bare client on the very same setup.
pub fn build_runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_name(THREAD_NAME)
        .enable_time()
        .enable_io()
        .build()
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        // Never block (this may run within another runtime); pending sends answer `cancelled`.
        lock(&self.generation).cancel();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What is needed to answer for a send whose task did not produce results.
struct Fallback {
    trackings: Vec<(String, usize)>,
    validate: bool,
}

impl Fallback {
    fn of(plan: &SendPlan) -> Self {
        Fallback {
            trackings: plan
                .trackings
                .iter()
                .map(|t| (t.tracking_id.clone(), t.requests.len()))
                .collect(),
            validate: plan.mode == Mode::Validate,
        }
    }

    fn results(&self, error: SendError) -> Vec<TrackingResult> {
        self.trackings
            .iter()
            .map(|(tracking_id, batches)| TrackingResult {
                tracking_id: tracking_id.clone(),
                result: Err(error),
                batches: *batches,
                requests: 0,
                events: 0,
                validation_messages: self.validate.then(Vec::new),
            })
            .collect()
    }
}

type OnDone = Box<dyn FnOnce(Vec<TrackingResult>) + Send>;

/// Calls `on_done` exactly once: from [`Completion::finish`], or when dropped unfinished.
struct Completion {
    on_done: Option<OnDone>,
    fallback: Fallback,
    in_flight: Arc<AtomicUsize>,
    jobs: Arc<Registry>,
    key: Vec<u8>,
    job: u64,
}

impl Completion {
    fn finish(mut self, results: Vec<TrackingResult>) {
        self.answer(results);
    }

    fn answer(&mut self, results: Vec<TrackingResult>) {
        let Some(on_done) = self.on_done.take() else {
            return;
        };
        {
            let mut jobs = lock(&self.jobs);
            if let Some(list) = jobs.get_mut(&self.key) {
                list.retain(|(job, _)| *job != self.job);
                if list.is_empty() {
                    jobs.remove(&self.key);
                }
            }
        }
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        on_done(results);
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.on_done.is_some() {
            let results = self.fallback.results(SendError::Cancelled);
            self.answer(results);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatcher_is_sync_and_send() {
        fn check<T: Sync + Send>() {}
        check::<Dispatcher>();
    }

    #[test]
    fn new_creates_no_runtime() {
        let d = Dispatcher::new();
        assert!(!d.is_started());
        assert_eq!(d.max_in_flight(), DEFAULT_MAX_IN_FLIGHT);
        d.set_max_in_flight(0);
        assert_eq!(d.max_in_flight(), 1);
        d.cancel(b"nothing");
        d.cancel_all();
        assert!(!d.is_started());
    }
}
