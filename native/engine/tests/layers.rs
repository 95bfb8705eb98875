//! The engine keeps the structure `lib.rs` maps: its folders are layers that only import
//! downward, no module imports itself back through others, and no file is over
//! [`MAX_LINES`] lines before its tests. Read from `src/` as text, so a change that breaks
//! the structure fails here, not in a review.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The top-level modules, lowest layer first: each may use the ones before it, never the
/// ones after.
const LAYERS: [&str; 5] = ["node", "report", "wire", "delivery", "api"];

/// Most lines of a file before its first `#[cfg(test)]`.
const MAX_LINES: usize = 400;

/// A source file: its module path (`wire::plan`; `wire` for `wire/mod.rs`) and text.
struct Source {
    module: String,
    file: String,
    text: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    collect(&root, &root, &mut out);
    out.sort_by(|a, b| a.file.cmp(&b.file));
    out
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<Source>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src/");
            let mut parts: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            out.push(Source {
                module: parts.join("::"),
                file: rel.to_string_lossy().into_owned(),
                text: fs::read_to_string(&path).expect("a UTF-8 source file"),
            });
        }
    }
}

/// The code of a file: every line but comments (doc links name items without importing
/// them).
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path written after `crate::`, as segments; `crate::a::{b, c::d}` gives `a::b` and
/// `a::c::d`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `crate::` inside a longer name (e.g. `my_crate::`) is not this crate.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        paths_in(rest, Vec::new(), &mut out);
    }
    out
}

/// Reads one path (or brace group of paths) at the start of `text`, after `prefix`.
fn paths_in(text: &str, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut rest = text;
    loop {
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if name_len > 0 {
            prefix.push(rest[..name_len].to_string());
            rest = &rest[name_len..];
            match rest.strip_prefix("::") {
                Some(more) => rest = more,
                None => break,
            }
        } else if let Some(group) = rest.strip_prefix('{') {
            for item in split_group(group) {
                paths_in(item.trim(), prefix.clone(), out);
            }
            return;
        } else {
            break;
        }
    }
    if !prefix.is_empty() {
        out.push(prefix);
    }
}

/// The comma-separated items of a brace group whose `{` was just read.
fn split_group(text: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&text[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// The modules each module uses, by module path (a path resolves to its longest prefix that
/// is a module).
fn dependencies(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<&str> = sources.iter().map(|s| s.module.as_str()).collect();
    let mut deps = BTreeMap::new();
    for s in sources {
        let used: &mut BTreeSet<String> = deps.entry(s.module.clone()).or_default();
        for path in crate_paths(&code(&s.text)) {
            let module = (1..=path.len())
                .rev()
                .map(|n| path[..n].join("::"))
                .find(|m| modules.contains(m.as_str()));
            if let Some(m) = module.filter(|m| *m != s.module) {
                used.insert(m);
            }
        }
    }
    deps
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn layer(module: &str) -> usize {
    let top = top(module);
    LAYERS
        .iter()
        .position(|l| *l == top)
        .unwrap_or_else(|| panic!("{top} is in no layer: add it to LAYERS (and to lib.rs's map)"))
}

#[test]
fn every_top_level_module_is_a_layer_declared_in_lib_rs() {
    let sources = sources();
    let tops: BTreeSet<&str> = sources
        .iter()
        .filter(|s| !s.module.is_empty())
        .map(|s| top(&s.module))
        .collect();
    assert_eq!(tops, LAYERS.iter().copied().collect::<BTreeSet<_>>());
    let lib = &sources
        .iter()
        .find(|s| s.module.is_empty())
        .expect("lib.rs")
        .text;
    for l in LAYERS {
        assert!(
            lib.contains(&format!("pub mod {l};")),
            "lib.rs declares {l}"
        );
    }
}

#[test]
fn layers_import_downward_only() {
    let mut upward = Vec::new();
    for (module, used) in dependencies(&sources()) {
        if module.is_empty() {
            continue;
        }
        for dep in used {
            if top(&dep) != top(&module) && layer(&dep) > layer(&module) {
                upward.push(format!("{module} uses {dep}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports of a higher layer: {upward:#?}");
}

#[test]
fn no_import_circles_between_modules() {
    let deps = dependencies(&sources());
    // Depth-first search; a module met again while still on the path closes a circle.
    fn visit<'a>(
        m: &'a str,
        deps: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| *p == m) {
            let mut circle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            circle.push(m.to_string());
            return Some(circle);
        }
        if !done.insert(m) {
            return None;
        }
        path.push(m);
        for d in deps.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, deps, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for m in deps.keys() {
        if let Some(circle) = visit(m, &deps, &mut Vec::new(), &mut done) {
            panic!("import circle: {}", circle.join(" -> "));
        }
    }
}

#[test]
fn imports_name_their_module_from_the_crate_root() {
    // `super::` would hide a dependency from the checks above; tests' `use super::*` is the
    // one exception (it imports the module under test).
    for s in sources() {
        for line in code(&s.text).lines() {
            let line = line.trim();
            if line.contains("super::") && line != "use super::*;" {
                panic!("{}: write crate:: paths, not `{line}`", s.file);
            }
        }
    }
}

#[test]
fn no_file_over_the_line_limit_before_its_tests() {
    for s in sources() {
        let lines = s
            .text
            .lines()
            .take_while(|l| l.trim() != "#[cfg(test)]")
            .count();
        assert!(lines <= MAX_LINES, "{}: {lines} lines", s.file);
    }
}

#[test]
fn the_reader_finds_grouped_and_nested_paths() {
    let code = "use crate::wire::{ga4::{self, Mode}, plan};\nlet x = crate::node::value::Value::Int(1);\nmy_crate::zzz";
    let paths: Vec<String> = crate_paths(code).iter().map(|p| p.join("::")).collect();
    assert_eq!(
        paths,
        [
            "wire::ga4::self",
            "wire::ga4::Mode",
            "wire::plan",
            "node::value::Value::Int"
        ]
    );
}
