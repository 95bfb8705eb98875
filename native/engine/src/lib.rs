//! The reporting engine of mongoose_system_metrics.
//!
//! Every input arrives as a decoded, size-checked [`node::value::Value`] tree (the NIF crate makes
//! it from the VM's terms). MongooseIM's node facts are read from it against the input schema
//! ([`node::node_info`]), turned into GA4 events under the privacy rules ([`report`], [`wire::ga4`]), planned into HTTP requests ([`wire::plan`]) and sent on a Tokio runtime with bounded
//! retries ([`delivery`]); events and send options are read from a `Value` too
//! ([`report::event`], [`wire::options`]). Nothing here depends on rustler, so `cargo test` covers all of it.

pub mod api;
pub mod delivery;
pub mod node;
pub mod report;
pub mod wire;
