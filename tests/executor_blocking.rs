//! No blocking file-system or SQLite call on an async executor thread in the node controller
//! or Walrus (the rule in the README's design notes): a lexical check over their sources.
//!
//! Flagged, when lexically inside an `async fn` or `async` block and not inside a closure
//! handed to `spawn_blocking`, `block_in_place` or `std::thread::spawn`: a call of anything
//! under `std::fs` or `rusqlite` (as written or through a `use`), and the `Path` methods that
//! touch the disk (`exists`, `read_dir`, ...). Test-only code is skipped. Being lexical, the
//! check does not follow calls into synchronous functions: those are reviewed by hand.

mod common;

use std::collections::HashMap;

use common::rust_sources::{crate_sources, file_uses, parse_without_tests};
use syn::visit::Visit;

/// Paths whose calls block on the disk.
const BLOCKING_PATHS: &[&[&str]] = &[&["std", "fs"], &["rusqlite"]];
/// `std::path::Path` methods that read the disk (no async counterpart is a method).
const BLOCKING_PATH_METHODS: &[&str] = &[
    "exists",
    "try_exists",
    "read_dir",
    "canonicalize",
    "symlink_metadata",
    "read_link",
];
/// Calls whose closure argument runs off the executor.
const HAND_OFFS: &[&str] = &["spawn_blocking", "block_in_place"];

/// Walks one file, keeping the async context.
struct Finder {
    imports: HashMap<String, Vec<String>>,
    /// The enclosing function and whether code here runs on the executor.
    function: String,
    in_async: bool,
    handed_off: usize,
    found: Vec<String>,
}

impl Finder {
    fn new(file: &syn::File) -> Self {
        Self {
            imports: file_uses(file)
                .into_iter()
                .filter(|(name, _)| name != "*")
                .collect(),
            function: String::new(),
            in_async: false,
            handed_off: 0,
            found: Vec::new(),
        }
    }

    fn on_executor(&self) -> bool {
        self.in_async && self.handed_off == 0
    }

    /// The full path a written path names, through this file's imports.
    fn resolve(&self, path: &syn::Path) -> Vec<String> {
        let written: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        match written.first().and_then(|first| self.imports.get(first)) {
            Some(full) => full.iter().chain(&written[1..]).cloned().collect(),
            None => written,
        }
    }

    fn flag(&mut self, what: String) {
        self.found.push(format!("in {}: {what}", self.function));
    }

    fn in_function(&mut self, name: String, is_async: bool, visit: impl FnOnce(&mut Self)) {
        let saved = (
            std::mem::replace(&mut self.function, name),
            std::mem::replace(&mut self.in_async, is_async),
            std::mem::replace(&mut self.handed_off, 0),
        );
        visit(self);
        (self.function, self.in_async, self.handed_off) = saved;
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        let (name, is_async) = (item.sig.ident.to_string(), item.sig.asyncness.is_some());
        self.in_function(name, is_async, |me| syn::visit::visit_item_fn(me, item));
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        let (name, is_async) = (item.sig.ident.to_string(), item.sig.asyncness.is_some());
        self.in_function(name, is_async, |me| {
            syn::visit::visit_impl_item_fn(me, item)
        });
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        let (name, is_async) = (item.sig.ident.to_string(), item.sig.asyncness.is_some());
        self.in_function(name, is_async, |me| {
            syn::visit::visit_trait_item_fn(me, item)
        });
    }

    fn visit_expr_async(&mut self, block: &'ast syn::ExprAsync) {
        let saved = std::mem::replace(&mut self.in_async, true);
        syn::visit::visit_expr_async(self, block);
        self.in_async = saved;
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        let syn::Expr::Path(function) = &*call.func else {
            return syn::visit::visit_expr_call(self, call);
        };
        let path = self.resolve(&function.path);
        if self.on_executor()
            && BLOCKING_PATHS.iter().any(|blocking| {
                path.len() > blocking.len()
                    && path.starts_with(&blocking.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            })
        {
            self.flag(path.join("::"));
        }
        let last = path.last().map(String::as_str).unwrap_or_default();
        let hands_off =
            HAND_OFFS.contains(&last) || path.ends_with(&["thread".to_owned(), "spawn".to_owned()]);
        self.handed_off += usize::from(hands_off);
        syn::visit::visit_expr_call(self, call);
        self.handed_off -= usize::from(hands_off);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let method = call.method.to_string();
        if self.on_executor() && BLOCKING_PATH_METHODS.contains(&method.as_str()) {
            self.flag(format!(".{method}()"));
        }
        let hands_off = HAND_OFFS.contains(&method.as_str());
        self.handed_off += usize::from(hands_off);
        syn::visit::visit_expr_method_call(self, call);
        self.handed_off -= usize::from(hands_off);
    }

    fn visit_expr_await(&mut self, awaited: &'ast syn::ExprAwait) {
        // `x.read_dir().await` is an async method (tokio's), not the blocking one.
        match &*awaited.base {
            syn::Expr::MethodCall(call) => {
                self.visit_expr(&call.receiver);
                for argument in &call.args {
                    self.visit_expr(argument);
                }
            }
            _ => syn::visit::visit_expr_await(self, awaited),
        }
    }
}

/// The blocking calls on the executor in one file's source.
fn blocking_calls(source: &str) -> Vec<String> {
    let file = parse_without_tests(source).expect("the source parses");
    let mut finder = Finder::new(&file);
    finder.visit_file(&file);
    finder.found
}

#[test]
fn node_and_walrus_keep_blocking_calls_off_the_executor() {
    let mut found = Vec::new();
    for crate_dir in ["services/node", "services/walrus"] {
        for file in crate_sources(crate_dir) {
            let mut finder = Finder::new(&file.syntax);
            finder.visit_file(&file.syntax);
            found.extend(
                finder
                    .found
                    .into_iter()
                    .map(|f| format!("{}: {f}", file.path.display())),
            );
        }
    }
    assert!(
        found.is_empty(),
        "blocking calls on the async executor (move them to spawn_blocking or tokio::fs):\n{}",
        found.join("\n")
    );
}

/// The checker itself: planted violations are found, the sanctioned forms are not.
#[test]
fn the_checker_finds_planted_blocking_calls() {
    let planted = r#"
        use std::fs;
        use std::fs::File;
        use rusqlite::Connection;
        use tokio::fs as afs;

        async fn direct() { std::fs::read("x").unwrap(); }
        async fn imported() { fs::write("x", b"").unwrap(); }
        async fn imported_type() { let _ = File::open("x"); }
        async fn sqlite() { let _ = Connection::open("db"); }
        async fn path_method(p: &std::path::Path) -> bool { p.exists() }
        fn sync_with_async_block() -> impl std::future::Future<Output = ()> {
            async { let _ = fs::metadata("x"); }
        }
        async fn in_a_closure() { let _ = ["x"].map(|p| fs::read(p)); }
    "#;
    assert_eq!(
        blocking_calls(planted),
        [
            "in direct: std::fs::read",
            "in imported: std::fs::write",
            "in imported_type: std::fs::File::open",
            "in sqlite: rusqlite::Connection::open",
            "in path_method: .exists()",
            "in sync_with_async_block: std::fs::metadata",
            "in in_a_closure: std::fs::read",
        ]
    );

    let sanctioned = r#"
        use std::fs;
        use tokio::fs as afs;

        fn sync() { fs::read("x").unwrap(); }
        async fn handed_off() {
            tokio::task::spawn_blocking(|| fs::read("x")).await.unwrap().unwrap();
            tokio::task::block_in_place(|| fs::read("x")).unwrap();
            std::thread::spawn(|| fs::read("x"));
        }
        async fn async_io(d: tokio::fs::ReadDir) {
            afs::read("x").await.unwrap();
            tokio::fs::write("x", b"").await.unwrap();
            let _ = std::path::Path::new("x").read_dir_async().await;
            let _ = handle().read_dir().await;
        }
        async fn nested() { fn inner() { fs::read("x").unwrap(); } }
        #[cfg(test)]
        mod tests { async fn t() { std::fs::read("x").unwrap(); } }
    "#;
    assert_eq!(blocking_calls(sanctioned), Vec::<String>::new());
}
