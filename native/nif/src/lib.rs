//! The Rustler NIF of mongoose_system_metrics: decodes Erlang terms into the engine's
//! `Value` under the input limits, encodes the engine's answers, owns the background
//! dispatcher and messages send results back. Logic lives in the engine.

mod atoms;
mod decode;
mod encode;
mod report;
mod send;

rustler::init!("mongoose_system_metrics_nif");
