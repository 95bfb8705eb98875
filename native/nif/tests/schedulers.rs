//! No NIF of this library runs on a normal scheduler. Whatever the input
//! (an unaligned sub-binary is copied whole by the VM when a NIF inspects it, before any size
//! check), only a dirty CPU scheduler is ever held. This checks the structure: every
//! `#[rustler::nif]` of the crate's sources names `schedule = "DirtyCpu"`.

use std::path::Path;

#[test]
fn every_nif_runs_on_a_dirty_cpu_scheduler() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut nifs = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.starts_with("#[rustler::nif") {
                    nifs.push((path.display().to_string(), i + 1, line.to_string()));
                }
            }
        }
    }
    // build_report, encode_json, plan_requests, send_report, build_and_send, cancel,
    // cancel_all, configure, release_rules, new_client_id.
    assert_eq!(nifs.len(), 10, "{nifs:#?}");
    let normal: Vec<_> = nifs
        .iter()
        .filter(|(_, _, attr)| attr != r#"#[rustler::nif(schedule = "DirtyCpu")]"#)
        .collect();
    assert!(normal.is_empty(), "NIFs on a normal scheduler: {normal:#?}");
}

/// The one-time set-up runs when the library loads (rustler's `load`
/// callback calls the engine's `prepare` and creates the dispatcher), not in a first call; the
/// Tokio runtime stays lazy (created by the dispatcher's first submit only).
#[test]
fn set_up_runs_when_the_library_loads() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(lib.contains(r#"rustler::init!("mongoose_system_metrics_nif", load = load);"#));
    let load = &lib[lib.find("fn load(").expect("a load callback")..];
    assert!(load.contains("api::prepare()"));
    assert!(load.contains("send::prepare()"));
    let send = std::fs::read_to_string(src.join("send.rs")).unwrap();
    let prepare = &send[send.find("pub fn prepare()").unwrap()..];
    let body = &prepare[..prepare.find('}').unwrap()];
    assert!(body.contains("Lazy::force(&DISPATCHER)"), "{body}");
    assert!(!body.contains("submit"), "{body}");
}
