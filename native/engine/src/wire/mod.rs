//! The wire: GA4's rules, the send options, the JSON bodies and the requests planned from them.

pub mod ga4;
pub mod json;
pub mod options;
pub mod plan;
pub mod secret;
