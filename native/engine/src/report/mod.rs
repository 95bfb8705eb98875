//! The report: the GA4 events built from the node facts, and the rules on what they may
//! carry.
//!
//! - [`allowlists`]: every name and value an event may carry, as plain data.
//! - [`release`]: what differs between MongooseIM releases, one table keyed by release line.
//! - [`event`]: the event model, and reading events back from a term (`encode_json/1`,
//!   `send_report/2`).
//! - [`privacy`]: how the allowlists apply, the version and uptime rules, and the check every
//!   send makes.
//! - [`build`]: NodeInfo in, events out, in MongooseIM's order.

pub mod allowlists;
pub mod build;
pub mod event;
pub mod privacy;
pub mod release;
