//! Keeps a crate's modules depending one way. Each top-level module belongs to a layer; a
//! module may name (`crate::x`, `crate::{x, y}`) modules of its own layer and of the
//! layers below it, and no two top-level modules may name each other through a cycle.
//! The master and the agent check their `src/` with this in a unit test, so an import
//! that climbs a layer fails the build's tests, not a review.
//!
//! Only `crate::` paths are read, outside comments: `super::` stays inside one module's
//! own files, and a module's files may depend on each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers of a crate, bottom first: a name and the top-level modules in it.
pub type Layers<'a> = &'a [(&'a str, &'a [&'a str])];

/// Problems with the `.rs` files under `src` (`lib.rs`, `main.rs` and `bin/` excepted: the
/// root and the binaries may name anything). `anywhere` are names every module may use:
/// what the crate root defines or re-exports (`crate::VERSION`) and test helpers that
/// build a whole engine for any layer's tests. Empty when all is well.
pub fn check_dir(src: &Path, layers: Layers, anywhere: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    collect(src, src, &mut files);
    check_sources(&files, layers, anywhere)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            out.push((relative.to_string_lossy().replace('\\', "/"), text));
        }
    }
}

/// [`check_dir`] over `(path relative to src, text)` pairs.
pub fn check_sources(files: &[(String, String)], layers: Layers, anywhere: &[&str]) -> Vec<String> {
    let layer_of: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(rank, (_, modules))| modules.iter().map(move |m| (*m, rank)))
        .collect();
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files {
        if path == "lib.rs" || path == "main.rs" || path.starts_with("bin/") {
            continue;
        }
        let module = path
            .split('/')
            .next()
            .unwrap_or(path)
            .trim_end_matches(".rs");
        let Some(&rank) = layer_of.get(module) else {
            problems.push(format!("{path}: module `{module}` is in no layer"));
            continue;
        };
        for name in crate_paths(text) {
            if name == module || anywhere.contains(&name.as_str()) {
                continue;
            }
            match layer_of.get(name.as_str()) {
                None => problems.push(format!("{path}: names `crate::{name}`, in no layer")),
                Some(&other) if other > rank => problems.push(format!(
                    "{path}: `{module}` ({}) names `crate::{name}` ({}), a layer above",
                    layers[rank].0, layers[other].0
                )),
                Some(_) => {
                    graph.entry(module.to_string()).or_default().insert(name);
                }
            }
        }
    }
    if let Some(cycle) = find_cycle(&graph) {
        problems.push(format!(
            "modules name each other in a cycle: {}",
            cycle.join(" -> ")
        ));
    }
    problems
}

/// The first segment of every `crate::` path in `text`, outside comments, with each item
/// of a `crate::{a, b::c}` group.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + "crate::".len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `mesos_crate::x`, not ours
            }
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let first = item.trim().split("::").next().unwrap_or("");
                    let first = first.split_whitespace().next().unwrap_or("");
                    if !first.is_empty() {
                        names.insert(first.to_string());
                    }
                }
            } else {
                let ident: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !ident.is_empty() {
                    names.insert(ident);
                }
            }
        }
    }
    names
}

/// A cycle in `graph`, as the modules along it, first one repeated at the end.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYERS: Layers = &[
        ("core", &["engine", "config"]),
        ("views", &["views"]),
        ("edges", &["http", "server"]),
    ];

    fn check(files: &[(&str, &str)]) -> Vec<String> {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        check_sources(&files, LAYERS, &["VERSION"])
    }

    #[test]
    fn imports_downward_pass() {
        let problems = check(&[
            ("engine/mod.rs", "use crate::config::Config;\nuse super::x;"),
            (
                "engine/offers.rs",
                "use crate::engine::Engine; let v = crate::VERSION;",
            ),
            (
                "views/mod.rs",
                "use crate::engine::{Engine, admin::{self, X}};",
            ),
            ("http.rs", "use crate::{engine, views::state};"),
            ("server.rs", "use crate::http;"),
            ("lib.rs", "use crate::server;"),
            ("bin/tool.rs", "use crate::server;"),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn an_import_from_a_layer_above_fails() {
        for (path, text) in [
            ("engine/mod.rs", "use crate::views::state_json::AgentJson;"),
            ("engine/agents.rs", "    crate::http::dispatch(e);"),
            (
                "config.rs",
                "use crate::{engine::Engine, server::MasterHandle};",
            ),
            ("views/state.rs", "use crate::server::VERSION;"),
        ] {
            let problems = check(&[(path, text)]);
            assert_eq!(problems.len(), 1, "{path}: {problems:?}");
            assert!(problems[0].contains("a layer above"), "{problems:?}");
        }
    }

    #[test]
    fn comments_and_other_crates_do_not_count() {
        let problems = check(&[(
            "engine/mod.rs",
            "//! See [`crate::views`].\nuse mesos_crate::http; // crate::server\n",
        )]);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn cycles_and_unknown_modules_fail() {
        let problems = check(&[
            ("http.rs", "use crate::server::Command;"),
            ("server.rs", "use crate::http::router;"),
        ]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("http -> server -> http"),
            "{problems:?}"
        );
        let problems = check(&[("stray.rs", ""), ("engine/x.rs", "crate::nowhere::f()")]);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
