//! No module cycles: within each crate, no module imports (through `use` or a written
//! `crate::`/`super::` path) a module that imports it back, directly or round a longer loop.
//! A module's references to its own ancestors or descendants are the tree itself (a parent
//! re-exporting its children, a child using its parent's types) and do not count.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::rust_sources::{crate_sources, file_uses, parse_without_tests, SourceFile};
use syn::visit::Visit;

/// The crates checked: every crate of the workspace (`codegen` and each folder of `services/`),
/// found rather than listed, so a new crate cannot be left out.
fn crates() -> Vec<String> {
    let services = common::workspace_root().join("services");
    let mut found: Vec<String> = std::fs::read_dir(&services)
        .unwrap_or_else(|e| panic!("{}: {e}", services.display()))
        .map(|entry| entry.expect("a readable services/ entry").path())
        .filter(|path| path.join("src").is_dir())
        .map(|path| {
            format!(
                "services/{}",
                path.file_name().expect("a folder name").to_string_lossy()
            )
        })
        .collect();
    found.push("codegen".to_owned());
    found.sort();
    found
}

type Module = Vec<String>;

/// The written paths that may name a module of this crate.
#[derive(Default)]
struct CratePaths(Vec<Vec<String>>);

impl<'ast> Visit<'ast> for CratePaths {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 && matches!(segments[0].as_str(), "crate" | "super" | "self") {
            self.0.push(segments);
        }
        syn::visit::visit_path(self, path);
    }
    fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {
        // Counted through `file_uses`, which also sees renames and groups.
    }
}

/// The absolute path (from the crate root) that `path`, written in `module`, names; `None`
/// for another crate's.
fn absolute(module: &Module, modules: &BTreeSet<Module>, path: &[String]) -> Option<Vec<String>> {
    let first = path.first()?;
    match first.as_str() {
        "crate" => Some(path[1..].to_vec()),
        "self" => Some(module.iter().chain(&path[1..]).cloned().collect()),
        "super" => {
            let mut base = module.clone();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            Some(base.into_iter().chain(rest.iter().cloned()).collect())
        }
        // A path starting with a child module's name (2018 edition `use child::Item`).
        _ => {
            let child: Module = module.iter().chain([first]).cloned().collect();
            modules
                .contains(&child)
                .then(|| module.iter().chain(path).cloned().collect())
        }
    }
}

/// The module an absolute path falls in: its longest prefix that is a module.
fn module_of(path: &[String], modules: &BTreeSet<Module>) -> Module {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains(prefix))
        .unwrap_or_default()
}

fn is_ancestor(a: &Module, b: &Module) -> bool {
    b.starts_with(a)
}

/// Module → the modules it imports, ancestors and descendants left out.
fn import_graph(files: &[SourceFile]) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules: BTreeSet<Module> = files.iter().map(|f| f.module.clone()).collect();
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for file in files {
        let mut written = CratePaths::default();
        written.visit_file(&file.syntax);
        let uses = file_uses(&file.syntax).into_iter().map(|(_, path)| path);
        let targets = graph.entry(file.module.clone()).or_default();
        for path in uses.chain(written.0) {
            let Some(path) = absolute(&file.module, &modules, &path) else {
                continue;
            };
            let target = module_of(&path, &modules);
            if !is_ancestor(&target, &file.module) && !is_ancestor(&file.module, &target) {
                targets.insert(target);
            }
        }
    }
    graph
}

/// The cycles of `graph`: its strongly connected components of more than one module.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<BTreeSet<Module>> {
    let reaches = |from: &Module| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&Module, BTreeSet<Module>> =
        graph.keys().map(|m| (m, reaches(m))).collect();
    let mut found: Vec<BTreeSet<Module>> = Vec::new();
    for (module, reached) in &reach {
        let component: BTreeSet<Module> = reached
            .iter()
            .filter(|other| {
                *other != *module && reach.get(other).is_some_and(|r| r.contains(*module))
            })
            .chain([*module])
            .cloned()
            .collect();
        if component.len() > 1 && !found.contains(&component) {
            found.push(component);
        }
    }
    found
}

fn describe(component: &BTreeSet<Module>, graph: &BTreeMap<Module, BTreeSet<Module>>) -> String {
    let name = |m: &Module| {
        if m.is_empty() {
            "crate".to_owned()
        } else {
            m.join("::")
        }
    };
    component
        .iter()
        .flat_map(|from| {
            graph[from]
                .iter()
                .filter(|to| component.contains(*to))
                .map(move |to| format!("{} -> {}", name(from), name(to)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let crates = crates();
    assert!(
        crates.iter().any(|c| c == "services/soap"),
        "the crate finder lost the workspace: {crates:?}"
    );
    let mut found = Vec::new();
    for crate_dir in crates {
        let graph = import_graph(&crate_sources(&crate_dir));
        for component in cycles(&graph) {
            found.push(format!("{crate_dir}: {}", describe(&component, &graph)));
        }
    }
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

/// The checker itself: a planted two-module cycle and a three-module loop are found; a tree
/// (parent and children referring to each other) is not a cycle.
#[test]
fn the_checker_finds_planted_cycles() {
    let file = |module: &str, source: &str| SourceFile {
        path: format!("{module}.rs").into(),
        module: module
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        syntax: parse_without_tests(source).expect("the source parses"),
    };
    let files = [
        file(
            "",
            "mod a; mod b; mod c; mod d; mod e; pub use a::A; pub struct Root;",
        ),
        // a and b: each names the other, by `use` and by a written path.
        file(
            "a",
            "use crate::b::B; pub struct A; fn f() -> crate::Root { todo!() }",
        ),
        file("b", "pub struct B; fn f() -> super::a::A { todo!() }"),
        // c, d, e: a loop of three.
        file("c", "use crate::d::{self, D}; pub struct C;"),
        file(
            "d",
            "mod inner; pub use inner::I; use crate::e::E; pub struct D;",
        ),
        file("e", "use super::c::C; pub struct E;"),
        // A child using its parent and the parent re-exporting it: a tree, no cycle.
        file("d::inner", "use super::D; pub struct I;"),
    ];
    let graph = import_graph(&files);
    let found: Vec<String> = cycles(&graph).iter().map(|c| describe(c, &graph)).collect();
    assert_eq!(found, ["a -> b, b -> a", "c -> d, d -> e, e -> c"]);
    assert_eq!(
        graph[&Vec::<String>::new()],
        BTreeSet::new(),
        "the root's children are its tree"
    );
}
