//! The privacy rules: what may ever leave the node. Every list here is an allowlist; anything
//! not on it is dropped, counted, or replaced by `custom`/`unknown`, never sent as given.

use once_cell::sync::Lazy;

use crate::report::event::{Event, ParamValue};
use crate::report::release;

/// Modules whose `config_metrics/1` reports `backend`.
const BACKEND_MODULES: [&str; 17] = [
    "mod_auth_token",
    "mod_bosh",
    "mod_event_pusher",
    "mod_event_pusher_push",
    "mod_http_upload",
    "mod_inbox",
    "mod_last",
    "mod_mam",
    "mod_muc",
    "mod_muc_light",
    "mod_offline",
    "mod_privacy",
    "mod_private",
    "mod_pubsub",
    "mod_pubsub_old",
    "mod_roster",
    "mod_vcard",
];

/// Values of `backend` that may be sent; any other becomes [`CUSTOM`]. Every backend that
/// the config specs of MongooseIM 6.1-6.8 accept for a reporting module (`rdbms_async`:
/// mod_inbox; `riak`: 6.1), and mod_event_pusher's pusher names.
pub const BACKEND_VALUES: [&str; 14] = [
    "mnesia",
    "rdbms",
    "cassandra",
    "elasticsearch",
    "ldap",
    "s3",
    "push",
    "http",
    "rabbit",
    "sns",
    "cets",
    "redis",
    "rdbms_async",
    "riak",
];
/// Values of mod_muc's `online_backend`.
pub const ONLINE_BACKEND_VALUES: [&str; 2] = ["mnesia", "cets"];
/// Values of mod_push_service_mongoosepush's `api_version`.
pub const API_VERSION_VALUES: [&str; 2] = ["v2", "v3"];
/// What an option value off its allowlist is sent as.
pub const CUSTOM: &str = "custom";

/// c2s listener protocols reported as transports.
pub const C2S_TRANSPORTS: [&str; 1] = ["tcp"];
/// TLS modes of c2s listeners.
pub const TLS_MODES: [&str; 3] = ["tls", "starttls", "starttls_required"];
/// TLS implementations of c2s listeners.
pub const TLS_MODULES: [&str; 2] = ["just_tls", "fast_tls"];
/// Outgoing pool types (`riak`: 6.1).
pub const POOL_TYPES: [&str; 8] = [
    "cassandra",
    "elastic",
    "http",
    "ldap",
    "rabbit",
    "rdbms",
    "redis",
    "riak",
];
/// Stanza counters, in MongooseIM's order.
pub const STANZA_TYPES: [&str; 6] = [
    "xmppMessageSent",
    "xmppMessageReceived",
    "xmppIqSent",
    "xmppIqReceived",
    "xmppPresenceSent",
    "xmppPresenceReceived",
];
/// Config types.
pub const CONFIG_TYPES: [&str; 3] = ["toml", "cfg", "unknown_config_type"];
/// The value of every `http_api` and `transport_mechanism` param.
pub const ENABLED: &str = "enabled";
/// What a version that does not look like a release becomes.
pub const UNKNOWN_VERSION: &str = "unknown";

/// Event names this engine sends.
const EVENT_NAMES: [&str; 10] = [
    "host_count",
    "domain_count",
    "module_with_opt",
    "custom_module_count",
    "cluster",
    "http_api",
    "transport_mechanism",
    "tls_option",
    "outgoing_pool",
    "xmpp_stanza_count",
];
/// Param names this engine sends (besides the handler and transport names).
const PARAM_NAMES: [&str; 14] = [
    "value",
    "module",
    "backend",
    "online_backend",
    "api_version",
    "uptime",
    "version",
    "component",
    "node_number",
    "config_type",
    "mode",
    "stanza_type",
    "total",
    "increment",
];

/// A set of the allowlists above, one bit each: what a word is, found with one lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lists(u32);

impl Lists {
    /// Event names this engine sends.
    pub const EVENT_NAMES: Lists = Lists(1);
    /// Param names this engine sends (besides the handler and transport names).
    pub const PARAM_NAMES: Lists = Lists(1 << 1);
    /// Modules some supported release names in its reports ([`release`]).
    pub const KNOWN_MODULES: Lists = Lists(1 << 2);
    /// Modules that report `backend`.
    pub const BACKEND_MODULES: Lists = Lists(1 << 3);
    /// [`BACKEND_VALUES`].
    pub const BACKEND_VALUES: Lists = Lists(1 << 4);
    /// [`ONLINE_BACKEND_VALUES`].
    pub const ONLINE_BACKEND_VALUES: Lists = Lists(1 << 5);
    /// [`API_VERSION_VALUES`].
    pub const API_VERSION_VALUES: Lists = Lists(1 << 6);
    /// [`CUSTOM`], [`ENABLED`] and [`UNKNOWN_VERSION`].
    pub const FIXED_VALUES: Lists = Lists(1 << 7);
    /// HTTP handlers some supported release names in `http_api` ([`release`]).
    pub const HTTP_API_HANDLERS: Lists = Lists(1 << 8);
    /// HTTP transports some supported release names ([`release`]).
    pub const HTTP_TRANSPORTS: Lists = Lists(1 << 9);
    /// [`C2S_TRANSPORTS`].
    pub const C2S_TRANSPORTS: Lists = Lists(1 << 10);
    /// [`TLS_MODES`].
    pub const TLS_MODES: Lists = Lists(1 << 11);
    /// [`TLS_MODULES`].
    pub const TLS_MODULES: Lists = Lists(1 << 12);
    /// [`POOL_TYPES`].
    pub const POOL_TYPES: Lists = Lists(1 << 13);
    /// [`STANZA_TYPES`].
    pub const STANZA_TYPES: Lists = Lists(1 << 14);
    /// [`CONFIG_TYPES`].
    pub const CONFIG_TYPES: Lists = Lists(1 << 15);

    /// Both sets together.
    pub const fn or(self, other: Lists) -> Lists {
        Lists(self.0 | other.0)
    }

    /// Whether any list of `other` is in `self`.
    pub const fn meets(self, other: Lists) -> bool {
        self.0 & other.0 != 0
    }
}

/// Every word of the allowlists above with its list: the names and values an event can
/// carry, except uptime and version.
const WORD_LISTS: [(&[&str], Lists); 13] = [
    (&EVENT_NAMES, Lists::EVENT_NAMES),
    (&PARAM_NAMES, Lists::PARAM_NAMES),
    (&BACKEND_VALUES, Lists::BACKEND_VALUES),
    (&ONLINE_BACKEND_VALUES, Lists::ONLINE_BACKEND_VALUES),
    (&API_VERSION_VALUES, Lists::API_VERSION_VALUES),
    (&[CUSTOM, ENABLED, UNKNOWN_VERSION], Lists::FIXED_VALUES),
    (&C2S_TRANSPORTS, Lists::C2S_TRANSPORTS),
    (&TLS_MODES, Lists::TLS_MODES),
    (&TLS_MODULES, Lists::TLS_MODULES),
    (&POOL_TYPES, Lists::POOL_TYPES),
    (&STANZA_TYPES, Lists::STANZA_TYPES),
    (&CONFIG_TYPES, Lists::CONFIG_TYPES),
    (&BACKEND_MODULES, Lists::BACKEND_MODULES),
];

/// Slots of the word table: a power of two, at least 4 times the number of words.
const WORD_SLOTS: usize = 512;

/// What a lookup compares: the length and the first and last 8 bytes (zero-padded when
/// shorter). Up to 16 bytes this is the whole string, so most comparisons need no memcmp.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    len: usize,
    head: u64,
    tail: u64,
}

impl Key {
    fn of(b: &[u8]) -> Key {
        let (head, tail) = match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
            (Some(head), Some(tail)) => (u64::from_le_bytes(*head), u64::from_le_bytes(*tail)),
            _ => {
                let mut buf = [0u8; 8];
                for (d, s) in buf.iter_mut().zip(b) {
                    *d = *s;
                }
                (u64::from_le_bytes(buf), 0)
            }
        };
        Key {
            len: b.len(),
            head,
            tail,
        }
    }

    /// A few multiplications instead of a pass over every byte: the words differ in their
    /// ends (shared prefixes such as `mod_global_distrib_` are told apart by the last bytes).
    fn slot(self) -> usize {
        let h = (self.head ^ self.len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ self.tail;
        (h.wrapping_mul(0xff51_afd7_ed55_8ccd) >> 40) as usize & (WORD_SLOTS - 1)
    }
}

/// A word's entry in the table: the word, its key, and the allowlists it is on.
#[derive(Clone, Copy)]
struct Word {
    text: &'static str,
    key: Key,
    lists: Lists,
}

/// The words by hash, open addressing with linear probing: one lookup costs a hash and
/// usually a single comparison. `slots` holds 1 + a word's index (0: empty), so the part
/// every lookup touches stays small.
struct Table {
    slots: Vec<u8>,
    words: Vec<Word>,
}

static WORDS: Lazy<Table> = Lazy::new(|| {
    let mut t = Table {
        slots: vec![0; WORD_SLOTS],
        words: Vec::new(),
    };
    // The per-release names (release.rs) are on the lists as the union over the releases.
    let release_words = [
        (
            release::all_reported_modules().collect::<Vec<_>>(),
            Lists::KNOWN_MODULES,
        ),
        (
            release::all_http_api_handlers().collect(),
            Lists::HTTP_API_HANDLERS,
        ),
        (
            release::all_http_transports().collect(),
            Lists::HTTP_TRANSPORTS,
        ),
    ];
    let all = WORD_LISTS
        .iter()
        .map(|(list, lists)| (*list, *lists))
        .chain(
            release_words
                .iter()
                .map(|(list, lists)| (&list[..], *lists)),
        );
    for (list, lists) in all {
        for &text in list {
            let key = Key::of(text.as_bytes());
            let mut i = key.slot();
            loop {
                match usize::from(t.slots[i]) {
                    0 => {
                        t.words.push(Word { text, key, lists });
                        // Fewer than 255 words (a test checks it).
                        t.slots[i] = u8::try_from(t.words.len()).unwrap_or(0);
                        break;
                    }
                    k if t.words[k - 1].text == text => {
                        t.words[k - 1].lists = t.words[k - 1].lists.or(lists);
                        break;
                    }
                    _ => i = (i + 1) & (WORD_SLOTS - 1),
                }
            }
        }
    }
    t
});

fn lookup(s: &[u8]) -> Option<Word> {
    if s.len() > MAX_WORD_LEN {
        return None;
    }
    let key = Key::of(s);
    let t = &*WORDS;
    let mut i = key.slot();
    loop {
        let w = t.words.get(usize::from(t.slots[i]).checked_sub(1)?)?;
        // Up to 16 bytes the key is the whole string; longer ones compare their middle.
        if w.key == key
            && (s.len() <= 16 || w.text.as_bytes().get(8..s.len() - 8) == s.get(8..s.len() - 8))
        {
            return Some(*w);
        }
        i = (i + 1) & (WORD_SLOTS - 1);
    }
}

/// The allowlists' own copy of `s`, when `s` is one of their words. Reading events back
/// uses it to share these words instead of copying them.
pub fn interned(s: &str) -> Option<&'static str> {
    interned_bytes(s.as_bytes())
}

/// [`interned`] for raw bytes: a binary that is one of the words needs no UTF-8 check.
pub fn interned_bytes(b: &[u8]) -> Option<&'static str> {
    lookup(b).map(|w| w.text)
}

/// The allowlists' own copy of `s` with the lists it is on, when it is on any.
pub fn word_of(s: &str) -> Option<(&'static str, Lists)> {
    lookup(s.as_bytes()).map(|w| (w.text, w.lists))
}

/// The allowlists `s` is on (none when it is on none).
pub fn lists_of(s: &str) -> Lists {
    lookup(s.as_bytes()).map_or(Lists(0), |w| w.lists)
}

/// The allowlists' own copy of `s`, when `s` is on one of `lists`.
pub fn on_list(lists: Lists, s: &str) -> Option<&'static str> {
    lookup(s.as_bytes())
        .filter(|w| w.lists.meets(lists))
        .map(|w| w.text)
}

/// Longer than every word (the longest module name is 34 bytes).
const MAX_WORD_LEN: usize = 40;

/// The entry of `list` equal to `s`, as a `'static` string.
pub fn find_in(list: &[&'static str], s: &str) -> Option<&'static str> {
    list.iter().find(|w| **w == s).copied()
}

/// `module` as spelled in the allowlist, when some supported release names it.
pub fn known_module(module: &str) -> Option<&'static str> {
    on_list(Lists::KNOWN_MODULES, module)
}

/// Whether some supported release names `module` in its reports.
pub fn is_known_module(module: &str) -> bool {
    known_module(module).is_some()
}

/// The allowed values of option `opt` of `module`, or `None` when the option is never sent.
pub fn option_values(module: &str, opt: &str) -> Option<&'static [&'static str]> {
    option_spec(module, opt).map(|(_, list)| match list {
        Lists::ONLINE_BACKEND_VALUES => &ONLINE_BACKEND_VALUES[..],
        Lists::API_VERSION_VALUES => &API_VERSION_VALUES[..],
        _ => &BACKEND_VALUES[..],
    })
}

/// Option `opt` of `module` as a `'static` name with the allowlist of its values, or `None`
/// when the option is never sent.
pub fn option_spec(module: &str, opt: &str) -> Option<(&'static str, Lists)> {
    option_spec_for(lists_of(module), module, opt)
}

/// [`option_spec`] when the module's lists are already known (one lookup per module).
pub fn option_spec_for(
    module_lists: Lists,
    module: &str,
    opt: &str,
) -> Option<(&'static str, Lists)> {
    match opt {
        "backend" if module_lists.meets(Lists::BACKEND_MODULES) => {
            Some(("backend", Lists::BACKEND_VALUES))
        }
        "online_backend" if module == "mod_muc" => {
            Some(("online_backend", Lists::ONLINE_BACKEND_VALUES))
        }
        "api_version" if module == "mod_push_service_mongoosepush" => {
            Some(("api_version", Lists::API_VERSION_VALUES))
        }
        _ => None,
    }
}

/// An option value as sent: itself when on the allowlist `allowed`, else [`CUSTOM`].
pub fn option_value(allowed: Lists, value: &str) -> &'static str {
    on_list(allowed, value).unwrap_or(CUSTOM)
}

/// Keeps only the release part of a version: `MAJOR.MINOR[.PATCH]` with an optional
/// git-describe suffix `-N-gHEX` (7-40 hex digits). A suffix that runs on into other
/// characters is dropped; no digits at all give `unknown`. "6.4.0-acme-prod" -> "6.4.0".
pub fn sanitize_version(version: &str) -> String {
    release_part(version).to_string()
}

/// What [`sanitize_version`] keeps of `version`, without copying it.
fn release_part(version: &str) -> &str {
    let b = version.as_bytes();
    let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    // Each number is capped so a hostile version cannot exceed GA4's 100-char value limit.
    const MAX_DIGITS: usize = 9;
    let number_at = |at: usize| {
        let n = digits(at);
        (1..=MAX_DIGITS).contains(&n).then_some(at + n)
    };
    let Some(mut end) = number_at(0) else {
        return UNKNOWN_VERSION;
    };
    let Some(after_minor) = (b.get(end) == Some(&b'.'))
        .then(|| number_at(end + 1))
        .flatten()
    else {
        return UNKNOWN_VERSION;
    };
    end = after_minor;
    if b.get(end) == Some(&b'.') {
        if let Some(after_patch) = number_at(end + 1) {
            end = after_patch;
        }
    }
    // Optional "-N-gHEX", accepted only when it ends the string or is followed by a
    // non-alphanumeric character (e.g. "-dirty"), so no trailing word leaks into it.
    if b.get(end) == Some(&b'-') {
        if let Some(after_n) = number_at(end + 1) {
            if b.get(after_n..after_n + 2) == Some(b"-g") {
                let hex_start = after_n + 2;
                let hex = b[hex_start..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
                    .count();
                let hex_end = hex_start + hex;
                let boundary = b.get(hex_end).is_none_or(|c| !c.is_ascii_alphanumeric());
                if (7..=40).contains(&hex) && boundary {
                    end = hex_end;
                }
            }
        }
    }
    &version[..end]
}

/// `DDDD-HH:MM:SS`, as MongooseIM formats uptime.
pub fn format_uptime(seconds: i64) -> String {
    let s = seconds.max(0);
    let (days, rest) = (s / 86_400, s % 86_400);
    format!(
        "{:04}-{:02}:{:02}:{:02}",
        days,
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

fn is_uptime(s: &str) -> bool {
    let Some((days, hms)) = s.split_once('-') else {
        return false;
    };
    // Exactly three ':'-separated parts of two digits each: "HH:MM:SS".
    let digit = |c: &u8| c.is_ascii_digit();
    let hms = hms.as_bytes();
    days.len() >= 4
        && days.len() <= 15
        && days.bytes().all(|c| c.is_ascii_digit())
        && hms.len() == 8
        && hms[2] == b':'
        && hms[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| digit(&hms[i]))
}

/// Checks that `event` is one that `build_report` could have produced: a known name, and only
/// allowlisted params and values. Returns a short reason when it is not.
pub fn check_event(event: &Event) -> Result<(), String> {
    let p = &event.params;
    // Membership by the word table's bits: one lookup instead of a scan of the list.
    let str_in = |key: &str, allowed: Lists| match p.get(key) {
        Some(ParamValue::Str(s)) if lists_of(s).meets(allowed) => Ok(()),
        Some(_) => Err(format!("param {key} has a value that is not allowed")),
        None => Err(format!("param {key} is missing")),
    };
    let count = |key: &str, min: i64| match p.get(key) {
        Some(ParamValue::Int(n)) if *n >= min => Ok(()),
        Some(_) => Err(format!("param {key} must be an integer >= {min}")),
        None => Err(format!("param {key} is missing")),
    };
    let only = |keys: &[&str]| match p.keys().find(|k| !keys.contains(&k.as_ref())) {
        Some(k) => Err(format!("param {k} is not allowed in {}", event.name)),
        None => Ok(()),
    };
    let all_enabled = |allowed: Lists| {
        p.iter().try_for_each(|(k, v)| match v {
            ParamValue::Str(s) if s == ENABLED && lists_of(k).meets(allowed) => Ok(()),
            _ => Err(format!("param {k} is not allowed in {}", event.name)),
        })
    };
    match event.name.as_ref() {
        "host_count" | "domain_count" | "custom_module_count" => {
            only(&["value"])?;
            count("value", 0)
        }
        "module_with_opt" => {
            let (module, module_lists) = match p.get("module") {
                Some(ParamValue::Str(m)) => match lists_of(m) {
                    l if l.meets(Lists::KNOWN_MODULES) => (m.as_ref(), l),
                    _ => return Err("param module names a module that is not allowed".into()),
                },
                Some(_) => return Err("param module names a module that is not allowed".into()),
                None => return Err("param module is missing".into()),
            };
            p.iter()
                .filter(|(k, _)| k.as_ref() != "module")
                .try_for_each(
                    |(k, v)| match (option_spec_for(module_lists, module, k), v) {
                        (Some((_, allowed)), ParamValue::Str(s))
                            if s == CUSTOM || lists_of(s).meets(allowed) =>
                        {
                            Ok(())
                        }
                        _ => Err(format!("param {k} is not allowed for {module}")),
                    },
                )
        }
        "cluster" => {
            only(&[
                "uptime",
                "version",
                "component",
                "node_number",
                "config_type",
            ])?;
            if let Some(v) = p.get("uptime") {
                match v {
                    ParamValue::Str(s) if is_uptime(s) => {}
                    _ => return Err("param uptime must look like DDDD-HH:MM:SS".into()),
                }
            }
            if let Some(v) = p.get("version") {
                match v {
                    ParamValue::Str(s) if release_part(s) == s.as_ref() => {}
                    _ => return Err("param version is not a release version".into()),
                }
            }
            if p.contains_key("component") {
                count("component", 0)?;
            }
            if p.contains_key("node_number") {
                count("node_number", 1)?;
            }
            if p.contains_key("config_type") {
                str_in("config_type", Lists::CONFIG_TYPES)?;
            }
            Ok(())
        }
        "http_api" => all_enabled(Lists::HTTP_API_HANDLERS),
        "transport_mechanism" => all_enabled(Lists::HTTP_TRANSPORTS.or(Lists::C2S_TRANSPORTS)),
        "tls_option" => {
            only(&["mode", "module"])?;
            str_in("mode", Lists::TLS_MODES)?;
            str_in("module", Lists::TLS_MODULES)
        }
        "outgoing_pool" => {
            only(&["value"])?;
            str_in("value", Lists::POOL_TYPES)
        }
        "xmpp_stanza_count" => {
            only(&["stanza_type", "total", "increment"])?;
            str_in("stanza_type", Lists::STANZA_TYPES)?;
            count("total", 0)?;
            count("increment", 0)
        }
        _ => Err("event name is not one this engine sends".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_keep_only_release_and_describe_suffix() {
        let cases = [
            ("6.4.0", "6.4.0"),
            ("6.4", "6.4"),
            ("6.4.0-12-gabc1234", "6.4.0-12-gabc1234"),
            ("6.4.0-12-gabc1234-dirty", "6.4.0-12-gabc1234"),
            ("6.4.0-acme-prod", "6.4.0"),
            ("6.4.0-12-gabc1234acme", "6.4.0"),
            ("6.4.0-12-gabc12", "6.4.0"),
            ("6.4.0.1", "6.4.0"),
            ("6.4-rc1", "6.4"),
            ("acme-6.4.0", "unknown"),
            ("6", "unknown"),
            ("", "unknown"),
            ("1234567890.1", "unknown"),
            ("6.4.0-12-gABC1234", "6.4.0"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_version(input), want, "input {input:?}");
        }
    }

    #[test]
    fn sanitized_versions_are_fixed_points() {
        for v in [
            "6.4.0-acme",
            "7.1-3-g0123456789",
            "x",
            "6.4.0-12-gabc1234-dirty",
        ] {
            let s = sanitize_version(v);
            assert_eq!(sanitize_version(&s), s);
        }
    }

    #[test]
    fn uptime_is_mongooseim_format() {
        assert_eq!(format_uptime(0), "0000-00:00:00");
        assert_eq!(format_uptime(90_061), "0001-01:01:01");
        assert_eq!(format_uptime(86_400 * 12_345), "12345-00:00:00");
        assert!(is_uptime(&format_uptime(1_000_000_000)));
        assert!(!is_uptime("1-00:00:00"));
        assert!(!is_uptime("0000-00:00"));
    }

    #[test]
    fn word_table_finds_every_word_and_only_those() {
        let words: Vec<&str> = WORD_LISTS
            .iter()
            .flat_map(|(l, _)| l.iter().copied())
            .chain(release::all_reported_modules())
            .chain(release::all_http_api_handlers())
            .collect();
        let distinct: std::collections::BTreeSet<&str> = words.iter().copied().collect();
        assert!(distinct.len() * 4 <= WORD_SLOTS);
        assert_eq!(WORDS.words.len(), distinct.len());
        assert!(distinct.len() < 255, "slots hold a word's index in a u8");
        for &w in &words {
            assert!(w.len() <= MAX_WORD_LEN, "{w}");
            assert_eq!(interned(w), Some(w));
            assert_eq!(interned_bytes(w.as_bytes()), Some(w));
            // Near misses: one byte more, less or changed, and other cases.
            let longer = format!("{w}_");
            let shorter = &w[..w.len() - 1];
            let mut changed = w.as_bytes().to_vec();
            let last = changed.len() - 1;
            changed[last] ^= 1;
            let mut middle = w.as_bytes().to_vec();
            middle[w.len() / 2] ^= 1;
            let upper = w.to_ascii_uppercase();
            for near in [
                longer.as_bytes(),
                shorter.as_bytes(),
                &changed,
                &middle,
                upper.as_bytes(),
            ] {
                if !words.iter().any(|x| x.as_bytes() == near) {
                    assert_eq!(interned_bytes(near), None, "{near:?}");
                }
            }
        }
        for w in [
            "mod_acme_billing",
            "",
            "Mod_mam",
            "mod_mam ",
            &"x".repeat(300),
        ] {
            assert_eq!(interned(w), None, "{w}");
        }
        assert_eq!(interned_bytes(&[0xff, 0xfe]), None);
        for m in release::all_reported_modules() {
            assert_eq!(known_module(m), Some(m));
        }
        assert_eq!(
            words
                .iter()
                .filter(|w| known_module(w).is_some())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            54
        );
        for m in [
            "mod_zzz",
            "mod_ping",
            "mnesia",
            "module_with_opt",
            "mod_mam_",
        ] {
            assert_eq!(known_module(m), None, "{m}");
        }
    }

    #[test]
    fn word_lists_bits_match_list_membership() {
        let words: Vec<&str> = WORD_LISTS
            .iter()
            .flat_map(|(l, _)| l.iter().copied())
            .chain(["mod_ping", "acme", ""])
            .collect();
        for (list, bit) in WORD_LISTS {
            for &w in &words {
                assert_eq!(lists_of(w).meets(bit), list.contains(&w), "{w}");
                assert_eq!(on_list(bit, w), find_in(list, w), "{w}");
            }
        }
    }

    #[test]
    fn word_lookups_stay_short() {
        // Each word sits within a few slots of its hash: a lookup is one or two comparisons.
        let (mut probes, mut words) = (0, 0);
        for (list, _) in WORD_LISTS {
            for w in list {
                let home = Key::of(w.as_bytes()).slot();
                let at = (0..WORD_SLOTS).find(|d| {
                    let k = usize::from(WORDS.slots[(home + d) & (WORD_SLOTS - 1)]);
                    k > 0 && WORDS.words[k - 1].text == *w
                });
                assert!(at.is_some_and(|d| d <= 3), "{w}: {at:?}");
                probes += at.unwrap_or(WORD_SLOTS);
                words += 1;
            }
        }
        assert!(
            probes * 4 <= words,
            "{probes} extra probes for {words} words"
        );
    }

    #[test]
    fn module_and_option_allowlists() {
        assert!(is_known_module("mod_mam"));
        assert!(is_known_module("mod_bosh"));
        assert!(!is_known_module("mod_ping"));
        assert!(!is_known_module("mod_acme_billing"));
        assert_eq!(
            option_values("mod_mam", "backend"),
            Some(&BACKEND_VALUES[..])
        );
        assert_eq!(option_values("mod_mam", "online_backend"), None);
        assert_eq!(
            option_values("mod_muc", "online_backend"),
            Some(&ONLINE_BACKEND_VALUES[..])
        );
        assert_eq!(
            option_values("mod_push_service_mongoosepush", "api_version"),
            Some(&API_VERSION_VALUES[..])
        );
        assert_eq!(option_values("mod_adhoc", "backend"), None);
        assert_eq!(option_values("mod_mam", "host"), None);
        assert_eq!(option_value(Lists::BACKEND_VALUES, "rdbms"), "rdbms");
        assert_eq!(option_value(Lists::BACKEND_VALUES, "acme_db"), CUSTOM);
        assert_eq!(option_value(Lists::BACKEND_VALUES, "v2"), CUSTOM);
        assert_eq!(option_value(Lists::API_VERSION_VALUES, "v1"), CUSTOM);
        assert_eq!(option_value(Lists::API_VERSION_VALUES, "v3"), "v3");
        assert_eq!(
            option_spec("mod_mam", "backend"),
            Some(("backend", Lists::BACKEND_VALUES))
        );
        assert_eq!(option_spec("mod_ping", "backend"), None);
        assert_eq!(option_values("mod_sic", "backend"), None);
    }
}
