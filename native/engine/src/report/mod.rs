//! The report: GA4 events built from the node facts under the privacy rules.

pub mod allowlists;
pub mod build;
pub mod event;
pub mod privacy;
pub mod release;
