//! No module imports a module that imports it back, in any crate under services/ or in
//! codegen: the module graph of each crate, read from its sources, has no cycle.
//!
//! A module is a source file (`mod.rs` stands for its directory). It depends on another when
//! it names it in a path, `crate::a::b`, `super::c` or `self::d` (in `use` or inline),
//! outside comments; a path names the deepest module it reaches. Inline `mod` blocks
//! (tests) belong to their file. Declaring a child (`mod child;`) is not a dependency on
//! it; naming it in a path is.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`["soap", "handler"]`) of a source file under `src`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The paths in `code` that start at `crate::`, `super::` or `self::`, made absolute for
/// code in module `here`, `inline` inline modules deep in its file (their first `super`s stay
/// in the file). A `{a, b::c}` group yields one path per member.
fn named_paths(code: &str, here: &[String], inline: usize) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(offset) = code[i..].find(['c', 's']) {
        let at = i + offset;
        i = at + 1;
        if code[..at].ends_with(|c: char| ident(c) || c == ':') {
            continue;
        }
        let mut rest = &code[at..];
        let mut base = here.to_vec();
        if let Some(tail) = rest.strip_prefix("crate::") {
            base.clear();
            rest = tail;
        } else if let Some(tail) = rest.strip_prefix("self::") {
            rest = tail;
        } else if rest.starts_with("super::") {
            let mut within_file = inline;
            while let Some(tail) = rest.strip_prefix("super::") {
                if within_file > 0 {
                    within_file -= 1;
                } else {
                    base.pop();
                }
                rest = tail;
            }
        } else {
            continue;
        }
        let end = rest
            .find(|c: char| !(ident(c) || c == ':'))
            .unwrap_or(rest.len());
        let segments = |text: &str| -> Vec<String> {
            text.split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "self")
                .map(str::to_owned)
                .collect()
        };
        let mut prefix = base;
        prefix.extend(segments(&rest[..end]));
        match rest[end..].strip_prefix('{') {
            Some(group) => {
                let close = group.find('}').unwrap_or(group.len());
                for member in group[..close].split(',') {
                    let mut full = prefix.clone();
                    full.extend(segments(member));
                    found.push(full);
                }
            }
            None => found.push(prefix),
        }
    }
    found
}

/// The module → modules graph of the crate whose sources are under `src`.
fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let here = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let mut edges = BTreeSet::new();
        // The indentation of each inline module open at this line (`mod tests {`).
        let mut open: Vec<usize> = Vec::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let indent = line.len() - line.trim_start().len();
            let trimmed = code.trim();
            if trimmed == "}" && open.last() == Some(&indent) {
                open.pop();
            }
            for path in named_paths(code, &here, open.len()) {
                let target = (0..=path.len())
                    .rev()
                    .map(|n| path[..n].to_vec())
                    .find(|p| modules.contains(p))
                    .unwrap_or_default();
                if target != here {
                    edges.insert(target);
                }
            }
            let declaration = trimmed
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub ");
            if declaration.starts_with("mod ") && declaration.ends_with('{') {
                open.push(indent);
            }
        }
        graph.insert(here, edges);
    }
    graph
}

type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

/// The modules reachable from `start`.
fn reachable(graph: &Graph, start: &[String]) -> BTreeSet<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![start.to_vec()];
    while let Some(node) = todo.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

/// The groups of modules that reach each other (strongly connected components of more
/// than one module), each sorted by name.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let reach: BTreeMap<_, _> = graph.keys().map(|n| (n, reachable(graph, n))).collect();
    let mut groups = BTreeSet::new();
    for (node, from_node) in &reach {
        let group: BTreeSet<String> = from_node
            .iter()
            .filter(|other| reach.get(other).is_some_and(|r| r.contains(*node)))
            .map(|m| name(m))
            .collect();
        if group.len() > 1 {
            groups.insert(group.into_iter().collect::<Vec<_>>());
        }
    }
    groups.into_iter().collect()
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

/// Every crate checked: each one under services/, and codegen.
fn crates() -> Vec<PathBuf> {
    let root = common::workspace_root();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("services"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    dirs.push(root.join("codegen/src"));
    dirs.sort();
    dirs
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut report = Vec::new();
    for src in crates() {
        for cycle in cycles(&graph(&src)) {
            report.push(format!("{}: {}", src.display(), cycle.join(" <-> ")));
        }
    }
    assert!(report.is_empty(), "module cycles:\n{}", report.join("\n"));
}

#[test]
fn the_checker_sees_cycles() {
    // Regression guard for the checker itself: a two-module cycle written to disk is found.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir(src.join("c")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::{b::Thing, c::d};\n").unwrap();
    std::fs::write(
        src.join("b.rs"),
        "// crate::a in a comment\npub struct Thing;\n",
    )
    .unwrap();
    std::fs::write(src.join("c/mod.rs"), "mod d;\n").unwrap();
    std::fs::write(
        src.join("c/d.rs"),
        "fn f() {\n    super::super::a::g()\n}\nmod tests {\n    use super::*;\n}\n",
    )
    .unwrap();
    assert_eq!(cycles(&graph(src)), vec![vec!["a", "c::d"]]);
    std::fs::write(
        src.join("b.rs"),
        "pub struct Thing;\nfn f() { crate::a::g() }\n",
    )
    .unwrap();
    assert_eq!(cycles(&graph(src)), vec![vec!["a", "b", "c::d"]]);
}
