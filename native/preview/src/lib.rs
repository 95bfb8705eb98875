//! What would a MongooseIM node running this configuration send? `msm-preview` (run as
//! `scripts/msm preview --config FILE`) reads a MongooseIM TOML configuration, turns it into
//! the node facts that the Erlang collector (`mongoose_system_metrics_collector`) gathers on a
//! node running it, and hands them to the reporting engine, which alone decides what is sent.
//! Nothing is sent.
//!
//! # The path of a preview
//!
//! 1. [`release`]: the MongooseIM release previewed (`--mongooseim-version`, default the
//!    latest supported) and what its TOML accepts.
//! 2. [`toml_text`]: the file parsed, and where it is wrong; [`mim_config`]: the TOML read
//!    into the parts that matter (host types, modules per host type, listeners, outgoing
//!    pools, instrumentation, the service's own section read by [`service`]); anything
//!    MongooseIM does not know is a warning.
//! 3. [`modules`] and [`deps`]: what MongooseIM does with each module's options at start on
//!    that release: its defaults, the modules it starts as dependencies, and what its
//!    `config_metrics/1` reports.
//! 4. [`facts`]: the node facts, in the shape of the collector's `build_report/1` input,
//!    with what only the running node knows (uptime, cluster size, components, stanza
//!    counts) given as a node that has just started alone would have it.
//! 5. [`preview`]: the engine's events and the exact requests of the configured tracking
//!    id (api_secret masked), and what depends on the running node.
//! 6. [`output`]: the preview as text or JSON, what came from the file made [`printable`];
//!    [`node_config`]: the configuration as the preview reads it, for the demo's stand-in
//!    node.
//!
//! [`cli`] reads the command line; `main.rs` maps errors to exit statuses (1: the file,
//! 2: usage).

pub mod release;

pub mod toml_text;

pub mod mim_config;

pub mod service;

pub mod modules;

pub mod deps;

pub mod facts;

pub mod preview;

pub mod output;

pub mod printable;

pub mod node_config;

pub mod cli;
