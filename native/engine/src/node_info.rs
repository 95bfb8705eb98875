//! The node's facts as MongooseIM's collector hands them over (`build_report/1`'s input).
//! Names borrow from the decoded [`Value`] tree: reading them copies nothing.

use std::borrow::Cow;

use crate::value::read::{atom, atom_keyed_map, index, key, list, non_neg, text};
use crate::value::{InputError, PathElem, Value};

/// Deepest nesting of a valid NodeInfo: map > modules list > entry map > opts map > value list.
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
    Text(Cow<'a, str>),
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
    /// Its reported options, in the input's order.
    pub opts: Vec<(&'a str, OptValue<'a>)>,
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
    pub version: Option<Cow<'a, str>>,
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
        for (name, value) in atom_keyed_map(v, &[])? {
            info.read_field(name, value)
                .map_err(|e| under(&key(&[], name), e))?;
        }
        Ok(info)
    }

    /// Reads one top-level field; error paths are relative to its key.
    fn read_field(&mut self, name: &str, value: &'a Value) -> Result<(), InputError> {
        let info = self;
        let path: &[PathElem] = &[];
        match name {
            "version" => {
                if !matches!(value, Value::Binary(_)) {
                    return Err(InputError::new(path, "expected a binary"));
                }
                info.version = Some(text_cow(value, path)?);
            }
            "uptime_seconds" => info.uptime_seconds = Some(non_neg(value, path)?),
            "node_count" => {
                let n = non_neg(value, path)?;
                if n == 0 {
                    return Err(InputError::new(path, "expected a positive integer"));
                }
                info.node_count = Some(n);
            }
            "component_count" => info.component_count = Some(non_neg(value, path)?),
            "config_type" => {
                info.config_type = Some(match atom(value, path)? {
                    "toml" => ConfigType::Toml,
                    "cfg" => ConfigType::Cfg,
                    "unknown_config_type" => ConfigType::Unknown,
                    _ => {
                        return Err(InputError::new(
                            path,
                            "expected toml, cfg or unknown_config_type",
                        ))
                    }
                })
            }
            "host_type_count" => info.host_type_count = Some(non_neg(value, path)?),
            "domain_count" => info.domain_count = Some(non_neg(value, path)?),
            "modules" => info.modules = read_modules(value, path)?,
            "http_handlers" => info.http_handlers = read_atoms(value, path)?,
            "c2s_listeners" => info.c2s_listeners = read_listeners(value, path)?,
            "outgoing_pools" => info.outgoing_pools = read_atoms(value, path)?,
            "stanza_counts" => info.stanza_counts = Some(read_counts(value, path)?),
            "previous_stanza_counts" => {
                info.previous_stanza_counts = Some(read_counts(value, path)?)
            }
            _ => return Err(InputError::new(path, "unknown key")),
        }
        Ok(())
    }
}

/// A text given as a binary (borrowed when UTF-8) or as a string (a list of character codes).
fn text_cow<'a>(v: &'a Value, path: &[PathElem]) -> Result<Cow<'a, str>, InputError> {
    match v {
        Value::Binary(b) => std::str::from_utf8(b)
            .map(Cow::Borrowed)
            .map_err(|_| InputError::new(path, "binary is not valid UTF-8")),
        _ => text(v, path).map(Cow::Owned),
    }
}

fn read_atoms<'a>(v: &'a Value, path: &[PathElem]) -> Result<Vec<&'a str>, InputError> {
    list(v, path)?
        .iter()
        .enumerate()
        .map(|(i, item)| atom(item, &[]).map_err(|e| under(&index(path, i), e)))
        .collect()
}

fn read_counts<'a>(v: &'a Value, path: &[PathElem]) -> Result<StanzaCounts<'a>, InputError> {
    atom_keyed_map(v, path)?
        .map(|(name, value)| {
            Ok((
                name,
                non_neg(value, &[]).map_err(|e| under(&key(path, name), e))?,
            ))
        })
        .collect()
}

fn read_modules<'a>(v: &'a Value, path: &[PathElem]) -> Result<Vec<ModuleEntry<'a>>, InputError> {
    list(v, path)?
        .iter()
        .enumerate()
        .map(|(i, item)| read_module(item).map_err(|e| under(&index(path, i), e)))
        .collect()
}

/// `e` with `prefix` put before its path.
fn under(prefix: &[PathElem], mut e: InputError) -> InputError {
    e.path.splice(0..0, prefix.iter().cloned());
    e
}

/// One module entry; error paths are relative to the entry. Paths are built only on error:
/// this runs for each of up to thousands of entries.
fn read_module(item: &Value) -> Result<ModuleEntry<'_>, InputError> {
    let mut module = None;
    let mut opts = Vec::new();
    for (name, value) in atom_keyed_map(item, &[])? {
        let at = |e| under(&key(&[], name), e);
        match name {
            "module" => module = Some(atom(value, &[]).map_err(at)?),
            "opts" => {
                for (opt, val) in atom_keyed_map(value, &[]).map_err(at)? {
                    let value =
                        read_opt_value(val, &[]).map_err(|e| at(under(&key(&[], opt), e)))?;
                    opts.push((opt, value));
                }
            }
            _ => return Err(InputError::new(&key(&[], name), "unknown key")),
        }
    }
    let module = module.ok_or_else(|| InputError::new(&[], "missing required key module"))?;
    Ok(ModuleEntry { module, opts })
}

fn read_scalar<'a>(
    v: &'a Value,
    path: &[PathElem],
    in_list: bool,
) -> Result<OptScalar<'a>, InputError> {
    match v {
        Value::Atom(a) if !in_list && (&**a == "true" || &**a == "false") => {
            Ok(OptScalar::Bool(&**a == "true"))
        }
        Value::Atom(a) => Ok(OptScalar::Atom(a)),
        Value::Binary(_) => Ok(OptScalar::Text(text_cow(v, path)?)),
        Value::Int(n) if !in_list => Ok(OptScalar::Int(*n)),
        other => Err(InputError::new(
            path,
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

fn read_opt_value<'a>(v: &'a Value, path: &[PathElem]) -> Result<OptValue<'a>, InputError> {
    match v {
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| read_scalar(item, &[], true).map_err(|e| under(&index(path, i), e)))
            .collect::<Result<Vec<_>, _>>()
            .map(OptValue::List),
        _ => read_scalar(v, path, false).map(OptValue::Scalar),
    }
}

fn read_listeners<'a>(v: &'a Value, path: &[PathElem]) -> Result<Vec<C2sListener<'a>>, InputError> {
    list(v, path)?
        .iter()
        .enumerate()
        .map(|(i, item)| read_listener(item).map_err(|e| under(&index(path, i), e)))
        .collect()
}

/// One c2s listener; error paths are relative to the listener (built only on error).
fn read_listener(item: &Value) -> Result<C2sListener<'_>, InputError> {
    let mut proto = None;
    let mut tls = None;
    for (name, value) in atom_keyed_map(item, &[])? {
        let at = |e| under(&key(&[], name), e);
        match name {
            "proto" => proto = Some(atom(value, &[]).map_err(at)?),
            "tls" => tls = Some(read_tls(value).map_err(at)?),
            _ => return Err(InputError::new(&key(&[], name), "unknown key")),
        }
    }
    let proto = proto.ok_or_else(|| InputError::new(&[], "missing required key proto"))?;
    Ok(C2sListener { proto, tls })
}

/// A listener's TLS settings; error paths are relative to `tls`.
fn read_tls(v: &Value) -> Result<ListenerTls<'_>, InputError> {
    let (mut mode, mut module) = (None, None);
    for (name, value) in atom_keyed_map(v, &[])? {
        let at = |e| under(&key(&[], name), e);
        match name {
            "mode" => mode = Some(atom(value, &[]).map_err(at)?),
            "module" => module = Some(atom(value, &[]).map_err(at)?),
            _ => return Err(InputError::new(&key(&[], name), "unknown key")),
        }
    }
    let mode = mode.ok_or_else(|| InputError::new(&[], "missing required key mode"))?;
    let module = module.ok_or_else(|| InputError::new(&[], "missing required key module"))?;
    Ok(ListenerTls { mode, module })
}
