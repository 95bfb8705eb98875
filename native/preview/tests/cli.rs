//! `msm-preview` as a command: exit statuses, messages, reporting switched off, tracking ids,
//! and what the text output marks as the running node's.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

/// A configuration file in a fresh temporary directory.
fn config_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("msm-preview-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_msm-preview"))
        .args(args)
        .output()
        .expect("msm-preview runs")
}

fn preview(name: &str, text: &str, extra: &[&str]) -> Output {
    let file = config_file(name, text);
    let mut args = vec!["--config", file.to_str().unwrap()];
    args.extend(extra);
    run(&args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

const SECTION: &str = "[services.service_mongoose_system_metrics]\n";

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["--json"],
        &["--config"],
        &["--config", "a.toml", "--mongooseim-version", "latest"],
        &["--config", "a.toml", "--bogus"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("usage: msm preview --config FILE"),
            "{args:?}"
        );
        assert!(out.stdout.is_empty());
    }
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = stdout(&help);
    assert!(help.contains("--mongooseim-version V"));
    // What exit status 1 means, and what the preview does not check.
    assert!(help
        .contains("Exit status: 0 previewed, 1 the file cannot be read or parsed, 2 usage error."));
    assert!(help.contains("so MongooseIM may still refuse a file previewed here"));
    assert!(!help.contains("valid"));
}

#[test]
fn file_errors_exit_1_naming_the_line_or_the_key() {
    let missing = run(&["--config", "/nonexistent/mongooseim.toml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("/nonexistent/mongooseim.toml: cannot read the file"));
    let cases = [
        (
            "syntax.toml",
            "[general]\nhosts = [\"a\",\n\"b\"\nx = 1\n",
            "line 4, column 1: missing comma",
        ),
        (
            "duplicate.toml",
            "[general]\n[general]\n",
            "line 2, column 2: duplicate key",
        ),
        (
            "hosts.toml",
            "[general]\nhosts = [\"a\", 1]\n",
            "general.hosts[2]: expected a string",
        ),
        (
            "listen.toml",
            "[listen]\nc2s = {port = 5222}\n",
            "listen.c2s: expected an array",
        ),
        (
            "handlers.toml",
            "[[listen.http]]\nhandlers.mod_bosh = {}\n",
            "listen.http[1].handlers.mod_bosh: expected an array",
        ),
        (
            "url.toml",
            "[services.service_mongoose_system_metrics]\nurl = \"ftp://x\"\n\
                      tracking_id = {id = \"G-1\", secret = \"s\"}\n",
            "services.service_mongoose_system_metrics.url: must be an http or https URL",
        ),
    ];
    for (name, text, message) in cases {
        let out = preview(name, text, &[]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(stderr(&out).contains(message), "{name}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{name}");
    }
}

#[test]
fn unknown_sections_are_warnings_and_the_rest_is_previewed() {
    let text = format!(
        "[general]\nhosts = [\"localhost\"]\n[frobnicate]\nx = 1\n[[listen.service]]\nport = 1\n\
         [outgoing_pools.mongo.default]\n[[host_config]]\nhost = \"localhost\"\nextras = 1\n{SECTION}"
    );
    let out = preview("unknown.toml", &text, &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    for warning in [
        "warning: ",
        "unknown section [frobnicate]: MongooseIM 6.8 has no such section",
        "unknown listener type [[listen.service]]",
        "unknown outgoing pool type [outgoing_pools.mongo]",
        "unknown section host_config[1].extras",
    ] {
        assert!(err.contains(warning), "{warning}: {err}");
    }
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json["events"][0],
        json!({"name": "host_count", "params": {"value": 1}})
    );
    // The three documented keys, and those that tell why there is no request.
    let mut keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "configured_tracking_id",
            "events",
            "off_reason",
            "refused_tracking_ids",
            "reporting",
            "reporting_nodes",
            "requests",
            "runtime_only"
        ]
    );
}

#[test]
fn reporting_switched_off_sends_nothing() {
    let off = preview(
        "off.toml",
        &format!("{SECTION}report = false\n"),
        &["--json"],
    );
    assert_eq!(off.status.code(), Some(0));
    let json: Value = serde_json::from_str(&stdout(&off)).unwrap();
    assert_eq!(
        json,
        json!({"events": [], "requests": [], "runtime_only": [], "reporting": "off",
               "off_reason": "report_false", "configured_tracking_id": null,
               "refused_tracking_ids": [], "reporting_nodes": null})
    );
    let no_section = preview("none.toml", "[general]\nhosts = [\"a\"]\n", &["--json"]);
    let json: Value = serde_json::from_str(&stdout(&no_section)).unwrap();
    assert_eq!(
        json,
        json!({"events": [], "requests": [], "runtime_only": [], "reporting": "off",
               "off_reason": "no_section", "configured_tracking_id": null,
               "refused_tracking_ids": [], "reporting_nodes": null})
    );
    let text = stdout(&preview(
        "off.toml",
        &format!("{SECTION}report = false\n"),
        &[],
    ));
    assert!(
        text.contains("Reporting is off: `report = false`"),
        "{text}"
    );
    let none = stdout(&preview("none.toml", "[general]\nhosts = [\"a\"]\n", &[]));
    assert!(none.contains("there is no [services.service_mongoose_system_metrics] section"));
    assert!(!none.contains("Events ("));
}

#[test]
fn tracking_ids_and_endpoints() {
    // No tracking id: the events, and no request (the built-in id is not known offline).
    let out = preview("no_id.toml", SECTION, &["--json"]);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["requests"], json!([]));
    assert!(!json["events"].as_array().unwrap().is_empty());
    let text = stdout(&preview("no_id.toml", SECTION, &[]));
    assert!(
        text.contains("None: the section has no tracking_id"),
        "{text}"
    );
    // An id the engine refuses: said, and nothing planned for it.
    let bad = format!("{SECTION}tracking_id.id = \"G 1\"\ntracking_id.secret = \"s\"\n");
    let text = stdout(&preview("bad_id.toml", &bad, &[]));
    assert!(
        text.contains("The configured tracking id G 1 is refused"),
        "{text}"
    );
    // A refused id is printed escaped: no control character of it reaches the terminal.
    let hostile =
        format!("{SECTION}tracking_id.id = \"G-\\u0000\\u001b[2J\"\ntracking_id.secret = \"s\"\n");
    let out = preview("hostile_id.toml", &hostile, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!out.stdout.iter().any(|b| *b == 0 || *b == 0x1b));
    assert!(
        stdout(&out).contains(r#"The configured tracking id "G-\0\u{1b}[2J" is refused"#),
        "{}",
        stdout(&out)
    );
    // `url` comes before `region`.
    let url = format!(
        "{SECTION}url = \"http://127.0.0.1:8080/mp/collect\"\nregion = \"eu\"\n\
         tracking_id.id = \"G-1\"\ntracking_id.secret = \"s3cr3t\"\n"
    );
    let json: Value =
        serde_json::from_str(&stdout(&preview("url.toml", &url, &["--json"]))).unwrap();
    assert_eq!(
        json["requests"][0]["url"],
        "http://127.0.0.1:8080/mp/collect?measurement_id=G-1&api_secret=***"
    );
}

/// `--json` tells apart the three reasons for no request: no tracking id, a refused one,
/// reporting off (above); and says when one node of the cluster sends.
#[test]
fn json_tells_why_there_is_no_request() {
    let fields = |text: &str| {
        let out = preview("why.toml", text, &["--json"]);
        assert_eq!(out.status.code(), Some(0), "{text}");
        let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
        [
            "reporting",
            "off_reason",
            "configured_tracking_id",
            "refused_tracking_ids",
            "reporting_nodes",
        ]
        .map(|k| json[k].clone())
        .to_vec()
    };
    assert_eq!(
        fields(SECTION),
        [
            json!("on"),
            json!(null),
            json!(null),
            json!([]),
            json!("every_node")
        ]
    );
    let refused = format!("{SECTION}tracking_id.id = \"G 1\"\ntracking_id.secret = \"s\"\n");
    assert_eq!(
        fields(&refused),
        [
            json!("on"),
            json!(null),
            json!("G 1"),
            json!(["G 1"]),
            json!("every_node")
        ]
    );
    let hostile = format!("{SECTION}tracking_id.id = \"G-\\u0000\"\ntracking_id.secret = \"s\"\n");
    assert_eq!(
        fields(&hostile),
        [
            json!("on"),
            json!(null),
            json!(r#""G-\0""#),
            json!([r#""G-\0""#]),
            json!("every_node")
        ]
    );
    let cluster = format!(
        "{SECTION}cluster_report = true\ntracking_id.id = \"G-1\"\ntracking_id.secret = \"s\"\n"
    );
    assert_eq!(
        fields(&cluster),
        [
            json!("on"),
            json!(null),
            json!("G-1"),
            json!([]),
            json!("one_node_per_cluster")
        ]
    );
    let text = stdout(&preview("cluster.toml", &cluster, &[]));
    assert!(
        text.contains("cluster_report = true: one node of the cluster sends this report"),
        "{text}"
    );
    let off =
        format!("{SECTION}report = false\ntracking_id.id = \"G-1\"\ntracking_id.secret = \"s\"\n");
    assert_eq!(
        fields(&off),
        [
            json!("off"),
            json!("report_false"),
            json!("G-1"),
            json!([]),
            json!(null)
        ]
    );
}

#[test]
fn text_marks_what_the_running_node_decides() {
    let text = format!(
        "[general]\nhosts = [\"a\"]\nhost_types = [\"t\"]\n[instrumentation.exometer]\n{SECTION}"
    );
    let out = stdout(&preview(
        "runtime.toml",
        &text,
        &["--mongooseim-version", "6.5.0"],
    ));
    assert!(
        out.contains("for MongooseIM 6.5.0 (the rules of release line 6.5)"),
        "{out}"
    );
    assert!(out.contains("domain_count           value=1*"), "{out}");
    assert!(out.contains("component=0*"), "{out}");
    assert!(out.contains("uptime=0000-00:00:00*"), "{out}");
    assert!(out.contains("config_type=toml,"), "{out}");
    assert!(
        out.contains("stanza_type=xmppMessageSent, total=0*"),
        "{out}"
    );
    assert!(out.contains(
        "* depends on the running node, shown as a node just started alone would send it: \
         uptime, node_number, component, domain_count, xmpp_stanza_count, client_id"
    ));
    let later = stdout(&preview(
        "runtime.toml",
        &text,
        &["--mongooseim-version", "6.9.0"],
    ));
    assert!(later
        .contains("Note: 6.9.0 names no supported release (6.1 to 6.8): the rules of 6.8 apply."));
}

#[test]
fn config_type_follows_the_extension() {
    let out = preview("mongooseim.cfg", SECTION, &["--json"]);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let cluster = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "cluster")
        .unwrap();
    assert_eq!(cluster["params"]["config_type"], "cfg");
}

/// A configuration whose node facts are over the engine's input limits (here 300 hosts, each
/// its own host type, of 40 modules: 12,000 module entries, over the 10,000 list items a
/// NodeInfo may hold) is refused as a node's NIF refuses it: exit 1, naming the limit. The
/// same modules on 10 hosts preview.
#[test]
fn a_node_over_the_engine_s_input_limits_exits_1() {
    let modules = [
        "mod_disco",
        "mod_ping",
        "mod_adhoc",
        "mod_carboncopy",
        "mod_blocking",
        "mod_last",
        "mod_offline",
        "mod_privacy",
        "mod_private",
        "mod_roster",
        "mod_vcard",
        "mod_sic",
        "mod_stream_management",
        "mod_csi",
        "mod_time",
        "mod_version",
        "mod_register",
        "mod_commands",
        "mod_muc_commands",
        "mod_muc_light_commands",
        "mod_bosh",
        "mod_caps",
        "mod_inbox",
        "mod_mam",
        "mod_muc",
        "mod_muc_light",
        "mod_presence",
        "mod_pubsub",
        "mod_smart_markers",
        "mod_auth_token",
        "mod_http_upload",
        "mod_keystore",
        "mod_extdisco",
        "mod_event_pusher",
        "mod_push_service_mongoosepush",
        "mod_shared_roster_ldap",
        "mod_vcard_ldap",
        "mod_amp",
        "mod_cache_users",
        "mod_jingle",
    ];
    assert_eq!(modules.len(), 40);
    let config = |hosts: usize| {
        let hosts: Vec<String> = (0..hosts).map(|i| format!("\"h{i}.test\"")).collect();
        let mut text = format!("[general]\nhosts = [{}]\n\n", hosts.join(", "));
        for m in modules {
            text.push_str(&format!("[modules.{m}]\n"));
        }
        text.push_str("\n[services.service_mongoose_system_metrics]\n");
        text
    };
    let out = preview("huge.toml", &config(300), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("more than 10000 list items in total"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
    let out = preview("ten.toml", &config(10), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
