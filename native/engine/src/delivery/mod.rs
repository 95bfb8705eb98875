//! Delivery: sending planned requests on a background runtime, with retries, and reporting
//! the outcome per tracking id.

pub mod client;
pub mod dispatch;
pub mod outcome;
pub mod retry;
pub mod sender;
pub mod validation;
