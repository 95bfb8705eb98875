//! The node's facts as MongooseIM's collector hands them over (`build_report/1`'s input),
//! read in place from any [`InputTerm`]: binaries and atom names are borrowed, nothing is
//! copied. The reader goes no deeper than the schema (map > modules list > entry map > opts
//! map > value list), so a hostile nesting is an error at the first level that is not in it.

use std::ops::Range;

use crate::input::{
    self, atom, binary_text, each_entry, each_item, non_neg, InputTerm, ItemBudget, Shape,
};
use crate::value::{InputError, Value};

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
    /// Reads a NodeInfo out of a decoded term (see [`NodeInfo::read`]).
    pub fn from_value(v: &'a Value) -> Result<NodeInfo<'a>, InputError> {
        NodeInfo::read(v)
    }

    /// Reads a NodeInfo, naming the path of the first problem; at most [`crate::value::MAX_ITEMS`]
    /// list items and map entries in all. Paths are built only on error.
    pub fn read<T: InputTerm<'a>>(v: T) -> Result<NodeInfo<'a>, InputError> {
        let mut info = NodeInfo::default();
        let mut budget = ItemBudget::default();
        each_entry(v, &mut budget, |name, value, budget| {
            info.read_field(name, value, budget)
        })?;
        Ok(info)
    }

    /// Reads one top-level field; error paths are relative to its key.
    fn read_field<T: InputTerm<'a>>(
        &mut self,
        name: &str,
        value: T,
        budget: &mut ItemBudget,
    ) -> Result<(), InputError> {
        let info = self;
        match name {
            "version" => info.version = Some(binary_text(value)?),
            "uptime_seconds" => info.uptime_seconds = Some(non_neg(value)?),
            "node_count" => {
                let n = non_neg(value)?;
                if n == 0 {
                    return Err(InputError::new(&[], "expected a positive integer"));
                }
                info.node_count = Some(n);
            }
            "component_count" => info.component_count = Some(non_neg(value)?),
            "config_type" => {
                info.config_type = Some(match atom(value)? {
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
            "host_type_count" => info.host_type_count = Some(non_neg(value)?),
            "domain_count" => info.domain_count = Some(non_neg(value)?),
            "modules" => {
                let opts = &mut info.module_opts;
                info.modules = each_item(value, budget, |v, b| read_module(v, b, opts))?
            }
            "http_handlers" => info.http_handlers = each_item(value, budget, |v, _| atom(v))?,
            "c2s_listeners" => info.c2s_listeners = each_item(value, budget, read_listener)?,
            "outgoing_pools" => info.outgoing_pools = each_item(value, budget, |v, _| atom(v))?,
            "stanza_counts" => info.stanza_counts = Some(read_counts(value, budget)?),
            "previous_stanza_counts" => {
                info.previous_stanza_counts = Some(read_counts(value, budget)?)
            }
            _ => return Err(InputError::new(&[], "unknown key")),
        }
        Ok(())
    }
}

fn read_counts<'a, T: InputTerm<'a>>(
    v: T,
    budget: &mut ItemBudget,
) -> Result<StanzaCounts<'a>, InputError> {
    let mut counts = Vec::new();
    each_entry(v, budget, |name, value, _| {
        counts.push((name, non_neg(value)?));
        Ok(())
    })?;
    Ok(counts)
}

/// A required key's value, or the error naming it.
fn required<V>(v: Option<V>, name: &str) -> Result<V, InputError> {
    v.ok_or_else(|| InputError::new(&[], format!("missing required key {name}")))
}

/// One module entry, its options appended to `opts`; error paths are relative to the entry.
/// Paths are built only on error: this runs for each of up to thousands of entries.
fn read_module<'a, T: InputTerm<'a>>(
    item: T,
    budget: &mut ItemBudget,
    opts: &mut Vec<(&'a str, OptValue<'a>)>,
) -> Result<ModuleEntry<'a>, InputError> {
    let mut module = None;
    let start = opts.len();
    each_entry(item, budget, |name, value, budget| {
        match name {
            "module" => module = Some(atom(value)?),
            "opts" => each_entry(value, budget, |opt, val, budget| {
                opts.push((opt, read_opt_value(val, budget)?));
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

/// An option's value: a scalar, or a list of atoms and binaries (each item counted).
fn read_opt_value<'a, T: InputTerm<'a>>(
    v: T,
    budget: &mut ItemBudget,
) -> Result<OptValue<'a>, InputError> {
    match v.shape() {
        Shape::List(_) => {
            each_item(v, budget, |item, _| read_scalar(item, true)).map(OptValue::List)
        }
        _ => read_scalar(v, false).map(OptValue::Scalar),
    }
}

/// One c2s listener; error paths are relative to the listener (built only on error).
fn read_listener<'a, T: InputTerm<'a>>(
    item: T,
    budget: &mut ItemBudget,
) -> Result<C2sListener<'a>, InputError> {
    let (mut proto, mut tls) = (None, None);
    each_entry(item, budget, |name, value, budget| {
        match name {
            "proto" => proto = Some(atom(value)?),
            "tls" => tls = Some(read_tls(value, budget)?),
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
fn read_tls<'a, T: InputTerm<'a>>(
    v: T,
    budget: &mut ItemBudget,
) -> Result<ListenerTls<'a>, InputError> {
    let (mut mode, mut module) = (None, None);
    each_entry(v, budget, |name, value, _| {
        match name {
            "mode" => mode = Some(atom(value)?),
            "module" => module = Some(atom(value)?),
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
fn read_scalar<'a, T: InputTerm<'a>>(v: T, in_list: bool) -> Result<OptScalar<'a>, InputError> {
    match v.shape() {
        Shape::Atom(a) if !in_list && (a == "true" || a == "false") => {
            Ok(OptScalar::Bool(a == "true"))
        }
        Shape::Atom(a) => Ok(OptScalar::Atom(a)),
        Shape::Binary(b) => Ok(OptScalar::Text(input::utf8(b)?)),
        Shape::Int(n) if !in_list => Ok(OptScalar::Int(n)),
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
