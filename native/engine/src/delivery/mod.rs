//! Delivery: a send plan executed on a background runtime, and what came of it.
//!
//! - [`outcome`]: the result per tracking id, and the errors a send reports.
//! - [`retry`]: which failed attempts are retried, after how long (pure, no I/O).
//! - [`client`]: the HTTP clients, one per trusted CA file, built lazily.
//! - [`validation`]: reading the answer of GA4's validation server.
//! - [`sender`]: the requests of one plan, with their retries.
//! - [`dispatch`]: the background runtime, sends in flight, cancellation, one answer per send.

pub mod client;
pub mod dispatch;
pub mod outcome;
pub mod retry;
pub mod sender;
pub mod validation;
