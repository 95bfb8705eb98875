//! The Rustler NIF of mongoose_system_metrics: decodes Erlang terms into the engine's
//! `Value` under the input limits, encodes the engine's answers, owns the background
//! dispatcher and messages send results back. Logic lives in the engine.

mod atoms;
mod decode;
mod encode;
mod report;
mod send;

use rustler::{Env, Term};

rustler::init!("mongoose_system_metrics_nif", load = load);

/// When the library loads: the engine's one-time set-up and the dispatcher (its Tokio
/// runtime is still created only by the first send), so no first call pays for them.
fn load(_env: Env, _info: Term) -> bool {
    mongoose_system_metrics_engine::api::prepare();
    send::prepare();
    true
}
