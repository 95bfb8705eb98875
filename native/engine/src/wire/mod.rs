//! The wire: what goes over HTTP to GA4.
//!
//! - [`ga4`]: GA4's Measurement Protocol rules and endpoints, and [`Mode`](ga4::Mode)
//!   (collect or validate).
//! - [`secret`]: the API secret and the request URL that carries it, never printed.
//! - [`json`]: the report file's JSON and the request bodies.
//! - [`options`]: the send options, read from a term and checked.
//! - [`plan`]: checked events and options in, the exact requests out, batched.

pub mod ga4;
pub mod json;
pub mod options;
pub mod plan;
pub mod secret;
