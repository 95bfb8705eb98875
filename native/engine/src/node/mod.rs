//! The node facts, the lowest layer: what every input is read from.
//!
//! - [`value`]: the decoded term model ([`Value`](value::Value)), the input limits, and the
//!   input error with the path of what is wrong.
//! - [`node_info`]: the schema of `build_report/1`'s input, the NodeInfo MongooseIM's
//!   collector hands over, read out of a `Value` without copying it.

pub mod node_info;
pub mod value;
