//! release_rules/1: the per-release rules the Erlang collector needs (how to read the stanza
//! counters, where the components are), from the engine's one table of release rules.

use mongoose_system_metrics_engine::release::{ReleaseLine, StanzaCounters};
use rustler::{Binary, Encoder, Env, Term};

use crate::atoms;

/// Versions longer than this are no release's: they get the latest line's rules.
const MAX_VERSION_BYTES: usize = 256;

#[rustler::nif]
fn release_rules_nif<'a>(env: Env<'a>, version: Term<'a>) -> Term<'a> {
    let text = version
        .decode::<Binary>()
        .ok()
        .filter(|b| b.len() <= MAX_VERSION_BYTES)
        .and_then(|b| std::str::from_utf8(b.as_slice()).ok().map(str::to_owned));
    let line = ReleaseLine::of_version(text.as_deref());
    let counters = match line.stanza_counters() {
        StanzaCounters::ExometerByType => atoms::exometer_by_type(),
        StanzaCounters::ExometerC2s => atoms::exometer_c2s(),
        StanzaCounters::ExometerWhenConfigured => atoms::exometer_when_configured(),
        StanzaCounters::Instrumentation => atoms::instrumentation(),
    };
    let components = match line.components_module() {
        "ejabberd_router" => atoms::ejabberd_router(),
        _ => atoms::mongoose_component(),
    };
    let pairs = [
        (atoms::release().encode(env), line.name().encode(env)),
        (atoms::stanza_counters().encode(env), counters.encode(env)),
        (atoms::components().encode(env), components.encode(env)),
    ];
    Term::map_from_pairs(env, &pairs)
        .unwrap_or_else(|_| (atoms::error(), atoms::internal_error()).encode(env))
}
