//! The node facts: the decoded term model every input arrives as, and the schema of the
//! NodeInfo MongooseIM's collector hands over.

pub mod node_info;
pub mod value;
