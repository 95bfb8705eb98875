//! The reporting engine of mongoose_system_metrics.
//!
//! Every input arrives as a decoded, size-checked [`value::Value`] tree (the NIF crate makes
//! it from the VM's terms). MongooseIM's node facts are read from it against the input schema
//! ([`node_info`]), turned into GA4 events under the privacy rules ([`report`], [`privacy`],
//! [`ga4`]), planned into HTTP requests ([`plan`]) and sent on a Tokio runtime with bounded
//! retries ([`sender`], [`dispatch`]); events and send options are read from a `Value` too
//! ([`event`], [`options`]). Nothing here depends on rustler, so `cargo test` covers all of it.

pub mod api;
pub mod client;
pub mod dispatch;
pub mod event;
pub mod ga4;
pub mod json;
pub mod node_info;
pub mod options;
pub mod outcome;
pub mod plan;
pub mod privacy;
pub mod release;
pub mod report;
pub mod retry;
pub mod secret;
pub mod sender;
pub mod value;
