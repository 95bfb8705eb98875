//! The Rustler NIF of mongoose_system_metrics: decodes Erlang terms into the engine's types,
//! owns the background dispatcher, and messages send results back. Logic lives in the engine.

mod atoms;
mod built;
mod decode;
mod encode;
mod map_iter;
mod release;
mod report;
mod send;

rustler::init!("mongoose_system_metrics_nif");
