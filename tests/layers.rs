//! The layering of `src/` (docs/architecture.md): every module uses only modules of its own layer
//! or of the layers below it, and no two modules of a layer use each other in a cycle.
//!
//! Layers, bottom up: the base (`error`, `rng`, `tagged`, `lib.rs`) < `linalg` < `math` < `run` <
//! `plot` < `app` < `web`. The CLI (`src/bin/`) sits on top and may use every layer but `web`.
//! A use is a path `crate::a::b` (or `pullback::a::b` in the CLI, `super::x` at the top level of a
//! file) outside comments; it names the longest module path that is a file of `src/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: [&str; 7] = ["base", "linalg", "math", "run", "plot", "app", "web"];

fn layer_of(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or("");
    LAYERS.iter().position(|&l| l == top).unwrap_or(0)
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/math/flow.rs` → `math::flow`, `src/linalg/mod.rs` → `linalg`, `src/lib.rs` → `` (the
/// root), `src/bin/pullback.rs` → `bin::pullback`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

/// The paths after `prefix` on the code part of `line` (identifiers joined by `::`; `{` ends one).
fn paths_after(line: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        let tail = &rest[i + prefix.len()..];
        rest = tail;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let path: String = tail
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        out.push(path.trim_end_matches(':').to_string());
    }
    out
}

fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

/// The longest prefix of `path` that is a module of `modules`.
fn resolve(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let segs: Vec<&str> = path.split("::").collect();
    (1..=segs.len())
        .rev()
        .map(|n| segs[..n].join("::"))
        .find(|m| modules.contains(m))
}

#[test]
fn modules_use_only_their_own_layer_and_the_layers_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    files.sort();
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut violations = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let me = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let in_bin = me.starts_with("bin::");
        let parent = me.rsplit_once("::").map_or("", |(p, _)| p).to_string();
        for (n, line) in text.lines().enumerate() {
            let code = code_of(line);
            let mut used = paths_after(code, if in_bin { "pullback::" } else { "crate::" });
            if !line.starts_with(char::is_whitespace) {
                used.extend(
                    paths_after(code, "super::")
                        .into_iter()
                        .map(|p| format!("{parent}::{p}")),
                );
            }
            for path in used {
                let Some(target) = resolve(&path, &modules) else {
                    continue;
                };
                if target == me {
                    continue;
                }
                let ok = if in_bin {
                    layer_of(&target) < layer_of("web")
                } else {
                    layer_of(&target) <= layer_of(&me)
                };
                if !ok {
                    violations.push(format!(
                        "{}:{}: {me} ({}) uses {target} ({})",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1,
                        LAYERS[layer_of(&me)],
                        LAYERS[layer_of(&target)]
                    ));
                }
                if !in_bin && layer_of(&target) == layer_of(&me) {
                    graph.entry(me.clone()).or_default().insert(target);
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "uses against the layering:\n{}",
        violations.join("\n")
    );

    // No cycle inside a layer: depth-first search for a back edge.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(1) => {
                let from = stack.iter().position(|s| s == m).unwrap();
                let mut cycle = stack[from..].to_vec();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            Some(2) => return None,
            _ => {}
        }
        state.insert(m.to_string(), 1);
        stack.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, graph, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        let cycle = visit(m, &graph, &mut state, &mut Vec::new());
        assert!(
            cycle.is_none(),
            "a cycle inside a layer: {}",
            cycle.unwrap().join(" → ")
        );
    }
    eprintln!(
        "{} modules in {} layers; {} uses inside layers, none against the layering, no cycle",
        modules.len(),
        LAYERS.len(),
        graph.values().map(BTreeSet::len).sum::<usize>()
    );
}
