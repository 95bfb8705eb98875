//! The reporting engine of mongoose_system_metrics: MongooseIM's node facts in, anonymous
//! GA4 Measurement Protocol reports out. Nothing here depends on rustler (the NIF crate is a
//! thin shell around [`api`]), so `cargo test` covers all of it.
//!
//! # Layers
//!
//! Each folder is a layer, and a layer uses only the layers listed before it
//! (`tests/layers.rs` checks this, and that no module imports itself back through others):
//!
//! 1. [`node`]: the node facts. Every input arrives as a decoded, size-checked
//!    [`Value`](node::value::Value) tree; [`node::node_info`] reads MongooseIM's facts
//!    out of it.
//! 2. [`report`]: the report. [`report::build`] turns the facts into GA4 events under the
//!    privacy rules.
//! 3. [`wire`]: the requests. GA4's rules, the send options, the JSON bodies, and the plan: the
//!    exact HTTP requests a send makes.
//! 4. [`delivery`]: sending a plan on a background Tokio runtime, with bounded retries, and
//!    the outcome per tracking id.
//! 5. [`api`]: one entry point per NIF function.
//!
//! # Where each rule lives
//!
//! - What may leave the node, as plain data: [`report::allowlists`]. How the lists apply,
//!   the version and uptime rules, and the check every send makes that an event is one a
//!   report could carry: [`report::privacy`].
//! - What differs between MongooseIM releases (the modules and HTTP handlers each one names,
//!   how it counts stanzas): [`report::release`], one table keyed by release line.
//! - The events of a report and their order: [`report::build`].
//! - Input limits: [`node::value`] (items, binary size); each schema's depth next to its
//!   reader ([`node::node_info`], [`report::event`], [`wire::options`]).
//! - GA4's rules (names, sizes, reserved words, endpoints, the validation URL): [`wire::ga4`].
//! - Batching (at most 25 events and under 130 kB per request) and the requests per tracking
//!   id: [`wire::plan`].
//! - Send options, their defaults and checks (tracking ids, client id, URL): [`wire::options`].
//! - Secrets never printed: [`wire::secret`].
//! - The retry policy: [`delivery::retry`]. HTTP clients and trusted CAs: [`delivery::client`].
//! - Sends in flight, cancellation, one answer per send: [`delivery::dispatch`].

// The layers, lowest first.
pub mod node;

pub mod report;

pub mod wire;

pub mod delivery;

pub mod api;
