//! The node's facts as MongooseIM's collector hands them over (`build_report/1`'s input),
//! read out of a decoded [`Value`]: binaries and atom names are borrowed from it, not copied.
//! The input limits were applied when the term was decoded ([`NODE_INFO_MAX_DEPTH`] deep).

use std::ops::Range;

use crate::node::value::read::{atom, atom_keyed_map, list, non_neg, under};
use crate::node::value::{InputError, PathElem, Value};

/// Deepest nesting of a valid NodeInfo: map > modules list > entry map > opts map > value
/// list.
pub const NODE_INFO_MAX_DEPTH: usize = 5;

/// How the node was configured (the extension of its config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// `mongooseim.toml`.
    Toml,
    /// Legacy `.cfg`.
    Cfg,
    /// Anything else.
    Unknown,
}

impl ConfigType {
    /// The name sent to GA4.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigType::Toml => "toml",
            ConfigType::Cfg => "cfg",
            ConfigType::Unknown => "unknown_config_type",
        }
    }
}

/// One scalar option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptScalar<'a> {
    /// An atom (its name).
    Atom(&'a str),
    /// A UTF-8 binary.
    Text(&'a str),
    /// An integer.
    Int(i64),
    /// `true` or `false`.
    Bool(bool),
}

/// An option value: a scalar or a list of atoms/binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptValue<'a> {
    /// A single value.
    Scalar(OptScalar<'a>),
    /// Several values (e.g. mod_event_pusher's backends); each gives its own event.
    List(Vec<OptScalar<'a>>),
}

/// One (host type, module) entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleEntry<'a> {
    /// The module's name.
    pub module: &'a str,
    /// Where its reported options are in [`NodeInfo::module_opts`], in the input's order.
    pub opts: Range<usize>,
}

/// TLS settings of a c2s listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerTls<'a> {
    /// `tls`, `starttls`, `starttls_required`.
    pub mode: &'a str,
    /// The TLS implementation, e.g. `just_tls`.
    pub module: &'a str,
}

/// A c2s listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C2sListener<'a> {
    /// Transport protocol, e.g. `tcp`.
    pub proto: &'a str,
    /// TLS settings, when configured.
    pub tls: Option<ListenerTls<'a>>,
}

/// Stanza totals by type name, in the input's order.
pub type StanzaCounts<'a> = Vec<(&'a str, i64)>;

/// Everything `build_report/1` accepts; every field optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeInfo<'a> {
    /// Release version, e.g. `6.4.0-12-gabc1234` (sanitised before sending).
    pub version: Option<&'a str>,
    /// Node uptime in seconds.
    pub uptime_seconds: Option<i64>,
    /// Nodes in the cluster.
    pub node_count: Option<i64>,
    /// Connected XMPP components.
    pub component_count: Option<i64>,
    /// Config file type.
    pub config_type: Option<ConfigType>,
    /// Number of host types.
    pub host_type_count: Option<i64>,
    /// Number of domains.
    pub domain_count: Option<i64>,
    /// Loaded modules, one per (host type, module).
    pub modules: Vec<ModuleEntry<'a>>,
    /// The options of every module entry, one after another (one allocation for all).
    pub module_opts: Vec<(&'a str, OptValue<'a>)>,
    /// HTTP handler modules of the HTTP listeners.
    pub http_handlers: Vec<&'a str>,
    /// c2s listeners.
    pub c2s_listeners: Vec<C2sListener<'a>>,
    /// Outgoing pool types, one per pool.
    pub outgoing_pools: Vec<&'a str>,
    /// Current stanza totals; `None` when no instrumentation counts them.
    pub stanza_counts: Option<StanzaCounts<'a>>,
    /// Totals of the previous report.
    pub previous_stanza_counts: Option<StanzaCounts<'a>>,
}

impl<'a> NodeInfo<'a> {
    /// Reads a NodeInfo out of a decoded term, naming the path of the first problem. Paths
    /// are built only on error.
    pub fn from_value(v: &'a Value) -> Result<NodeInfo<'a>, InputError> {
        let mut info = NodeInfo::default();
        for_each_entry(v, |name, value| info.read_field(name, value))?;
        Ok(info)
    }

    /// Reads one top-level field; error paths are relative to its key.
    fn read_field(&mut self, name: &'a str, value: &'a Value) -> Result<(), InputError> {
        let info = self;
        match name {
            "version" => info.version = Some(text(value)?),
            "uptime_seconds" => info.uptime_seconds = Some(non_neg(value, &[])?),
            "node_count" => {
                let n = non_neg(value, &[])?;
                if n == 0 {
                    return Err(InputError::new(&[], "expected a positive integer"));
                }
                info.node_count = Some(n);
            }
            "component_count" => info.component_count = Some(non_neg(value, &[])?),
            "config_type" => {
                info.config_type = Some(match atom(value, &[])? {
                    "toml" => ConfigType::Toml,
                    "cfg" => ConfigType::Cfg,
                    "unknown_config_type" => ConfigType::Unknown,
                    _ => {
                        return Err(InputError::new(
                            &[],
                            "expected toml, cfg or unknown_config_type",
                        ))
                    }
                })
            }
            "host_type_count" => info.host_type_count = Some(non_neg(value, &[])?),
            "domain_count" => info.domain_count = Some(non_neg(value, &[])?),
            "modules" => {
                let opts = &mut info.module_opts;
                info.modules = each_item(value, |v| read_module(v, opts))?
            }
            "http_handlers" => info.http_handlers = each_item(value, |v| atom(v, &[]))?,
            "c2s_listeners" => info.c2s_listeners = each_item(value, read_listener)?,
            "outgoing_pools" => info.outgoing_pools = each_item(value, |v| atom(v, &[]))?,
            "stanza_counts" => info.stanza_counts = Some(read_counts(value)?),
            "previous_stanza_counts" => info.previous_stanza_counts = Some(read_counts(value)?),
            _ => return Err(InputError::new(&[], "unknown key")),
        }
        Ok(())
    }
}

/// Reads each item of the list `v` with `read`; error paths are relative to the list.
fn each_item<'a, R>(
    v: &'a Value,
    mut read: impl FnMut(&'a Value) -> Result<R, InputError>,
) -> Result<Vec<R>, InputError> {
    list(v, &[])?
        .iter()
        .enumerate()
        .map(|(i, item)| read(item).map_err(|e| under(&[PathElem::Index(i + 1)], e)))
        .collect()
}

/// Reads each entry of the map `v`, whose keys must be atoms, with `read` (given the key's
/// name); error paths are relative to the map, and an error from `read` is put under its key.
fn for_each_entry<'a>(
    v: &'a Value,
    mut read: impl FnMut(&'a str, &'a Value) -> Result<(), InputError>,
) -> Result<(), InputError> {
    for (name, value) in atom_keyed_map(v, &[])? {
        read(name, value).map_err(|e| under(&[PathElem::Key(name.to_string())], e))?;
    }
    Ok(())
}

/// A binary as UTF-8 text.
fn text(v: &Value) -> Result<&str, InputError> {
    match v {
        Value::Binary(b) => {
            std::str::from_utf8(b).map_err(|_| InputError::new(&[], "binary is not valid UTF-8"))
        }
        other => Err(InputError::new(
            &[],
            format!("expected a binary, got {}", other.kind()),
        )),
    }
}

fn read_counts(v: &Value) -> Result<StanzaCounts<'_>, InputError> {
    let mut counts = Vec::new();
    for_each_entry(v, |name, value| {
        counts.push((name, non_neg(value, &[])?));
        Ok(())
    })?;
    Ok(counts)
}

/// A required key's value, or the error naming it.
fn required<V>(v: Option<V>, name: &str) -> Result<V, InputError> {
    v.ok_or_else(|| InputError::new(&[], format!("missing required key {name}")))
}

/// One module entry, its options appended to `opts`; error paths are relative to the entry.
fn read_module<'a>(
    item: &'a Value,
    opts: &mut Vec<(&'a str, OptValue<'a>)>,
) -> Result<ModuleEntry<'a>, InputError> {
    let mut module = None;
    let start = opts.len();
    for_each_entry(item, |name, value| {
        match name {
            "module" => module = Some(atom(value, &[])?),
            "opts" => for_each_entry(value, |opt, val| {
                opts.push((opt, read_opt_value(val)?));
                Ok(())
            })?,
            _ => return Err(InputError::new(&[], "unknown key")),
        }
        Ok(())
    })?;
    Ok(ModuleEntry {
        module: required(module, "module")?,
        opts: start..opts.len(),
    })
}

/// An option's value: a scalar, or a list of atoms and binaries.
fn read_opt_value(v: &Value) -> Result<OptValue<'_>, InputError> {
    match v {
        Value::List(_) => each_item(v, |item| read_scalar(item, true)).map(OptValue::List),
        _ => read_scalar(v, false).map(OptValue::Scalar),
    }
}

/// One c2s listener; error paths are relative to the listener.
fn read_listener(item: &Value) -> Result<C2sListener<'_>, InputError> {
    let (mut proto, mut tls) = (None, None);
    for_each_entry(item, |name, value| {
        match name {
            "proto" => proto = Some(atom(value, &[])?),
            "tls" => tls = Some(read_tls(value)?),
            _ => return Err(InputError::new(&[], "unknown key")),
        }
        Ok(())
    })?;
    Ok(C2sListener {
        proto: required(proto, "proto")?,
        tls,
    })
}

/// A listener's TLS settings; error paths are relative to `tls`.
fn read_tls(v: &Value) -> Result<ListenerTls<'_>, InputError> {
    let (mut mode, mut module) = (None, None);
    for_each_entry(v, |name, value| {
        match name {
            "mode" => mode = Some(atom(value, &[])?),
            "module" => module = Some(atom(value, &[])?),
            _ => return Err(InputError::new(&[], "unknown key")),
        }
        Ok(())
    })?;
    Ok(ListenerTls {
        mode: required(mode, "mode")?,
        module: required(module, "module")?,
    })
}

/// One scalar option value, alone or as a list's item.
fn read_scalar(v: &Value, in_list: bool) -> Result<OptScalar<'_>, InputError> {
    match v {
        Value::Atom(a) if !in_list && (&**a == "true" || &**a == "false") => {
            Ok(OptScalar::Bool(&**a == "true"))
        }
        Value::Atom(a) => Ok(OptScalar::Atom(a)),
        Value::Binary(_) => Ok(OptScalar::Text(text(v)?)),
        Value::Int(n) if !in_list => Ok(OptScalar::Int(*n)),
        other => Err(InputError::new(
            &[],
            format!(
                "expected {}, got {}",
                if in_list {
                    "an atom or a binary"
                } else {
                    "an atom, a binary, an integer, a boolean or a list"
                },
                other.kind()
            ),
        )),
    }
}
