//! No blocking file-system or SQLite call on an async executor thread in the node controller,
//! the cluster controller, Walrus, the soap runtime or the kit (the rule in the README's design
//! notes): a lexical check over their sources.
//!
//! Flagged, when lexically inside an `async fn` or `async` block and not inside a closure
//! handed to `spawn_blocking`, `block_in_place`, `kit::blocking` or `std::thread::spawn`: a call
//! of anything under `std::fs` or `rusqlite` (as written or through a `use`), the `Path`
//! methods that touch the disk (`exists`, `read_dir`, ...), and a call by path (`f(..)`,
//! `module::f(..)`, `Type::f(..)`) of one of the crate's synchronous functions that makes such
//! a call or calls another that does. Test-only code is skipped. Being lexical, the check
//! does not follow method calls (`value.f()`): those are reviewed by hand.

mod common;

use std::collections::{HashMap, HashSet};

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
const HAND_OFFS: &[&str] = &["spawn_blocking", "block_in_place", "blocking"];

/// What a walk over a file collects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Which synchronous functions block, and what they call by path.
    Catalog,
    /// Blocking calls on the executor.
    Check,
}

/// Walks one file, keeping the async context.
struct Finder<'b> {
    pass: Pass,
    imports: HashMap<String, Vec<String>>,
    /// The file's module path, and the crate's functions known to block: `module::name` for
    /// free functions, `Type::name` for associated ones.
    module: Vec<String>,
    blocking_fns: &'b HashSet<String>,
    /// The enclosing function (`name` or `Type::name`) and whether code here is examined:
    /// on the executor (check pass) or in a synchronous function (catalog pass).
    function: String,
    impl_type: Option<String>,
    in_async: bool,
    handed_off: usize,
    found: Vec<String>,
    /// Catalog pass: functions with a blocking call of their own, and calls by path.
    blocking_in: HashSet<String>,
    calls: Vec<Call>,
}

/// A call by path in a synchronous function, for the catalog.
struct Call {
    caller: String,
    module: Vec<String>,
    callee: Vec<String>,
}

impl Call {
    fn blocks(&self, blocking: &HashSet<String>) -> bool {
        blocking
            .iter()
            .any(|key| names(&self.callee, &self.module, key))
    }
}

/// Whether `callee`, a path called from `module`, names the function `key`. Associated
/// functions are known by their type's name, free ones by their module path.
fn names(callee: &[String], module: &[String], key: &str) -> bool {
    match callee {
        [.., owner, _] if owner.starts_with(char::is_uppercase) => {
            callee[callee.len() - 2..].join("::") == key
        }
        [name] => qualified(module, name) == key,
        _ => key
            .split("::")
            .collect::<Vec<_>>()
            .ends_with(&callee.iter().map(String::as_str).collect::<Vec<_>>()),
    }
}

fn qualified(module: &[String], name: &str) -> String {
    module
        .iter()
        .map(String::as_str)
        .chain([name])
        .collect::<Vec<_>>()
        .join("::")
}

impl<'b> Finder<'b> {
    fn new(
        file: &syn::File,
        module: Vec<String>,
        pass: Pass,
        blocking_fns: &'b HashSet<String>,
    ) -> Self {
        Self {
            pass,
            module,
            imports: file_uses(file)
                .into_iter()
                .filter(|(name, _)| name != "*")
                .collect(),
            blocking_fns,
            function: String::new(),
            impl_type: None,
            in_async: false,
            handed_off: 0,
            found: Vec::new(),
            blocking_in: HashSet::new(),
            calls: Vec::new(),
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

    /// A called path as the catalog knows functions: without `crate`, `self` or `super`,
    /// and `Self` as the type it stands for.
    fn callee(&self, path: &[String]) -> Vec<String> {
        path.iter()
            .filter(|s| !["crate", "self", "super"].contains(&s.as_str()))
            .map(|s| match (s.as_str(), &self.impl_type) {
                ("Self", Some(own)) => own.clone(),
                _ => s.clone(),
            })
            .collect()
    }

    fn flag(&mut self, what: String) {
        match self.pass {
            Pass::Catalog => {
                self.blocking_in.insert(self.function.clone());
            }
            Pass::Check => self.found.push(format!("in {}: {what}", self.function)),
        }
    }

    fn in_function(&mut self, name: &syn::Ident, is_async: bool, visit: impl FnOnce(&mut Self)) {
        let key = match &self.impl_type {
            Some(owner) => format!("{owner}::{name}"),
            None => qualified(&self.module, &name.to_string()),
        };
        let examined = match self.pass {
            Pass::Catalog => !is_async,
            Pass::Check => is_async,
        };
        let saved = (
            std::mem::replace(&mut self.function, key),
            std::mem::replace(&mut self.in_async, examined),
            std::mem::replace(&mut self.handed_off, 0),
        );
        visit(self);
        (self.function, self.in_async, self.handed_off) = saved;
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        let saved = self.impl_type.take();
        let is_async = item.sig.asyncness.is_some();
        self.in_function(&item.sig.ident, is_async, |me| {
            syn::visit::visit_item_fn(me, item)
        });
        self.impl_type = saved;
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let owner = match &*item.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        let saved = std::mem::replace(&mut self.impl_type, owner);
        syn::visit::visit_item_impl(self, item);
        self.impl_type = saved;
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        let is_async = item.sig.asyncness.is_some();
        self.in_function(&item.sig.ident, is_async, |me| {
            syn::visit::visit_impl_item_fn(me, item)
        });
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        let is_async = item.sig.asyncness.is_some();
        self.in_function(&item.sig.ident, is_async, |me| {
            syn::visit::visit_trait_item_fn(me, item)
        });
    }

    fn visit_expr_async(&mut self, block: &'ast syn::ExprAsync) {
        let saved = std::mem::replace(&mut self.in_async, self.pass == Pass::Check);
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
        if self.on_executor() {
            let callee = self.callee(&path);
            match self.pass {
                Pass::Catalog => self.calls.push(Call {
                    caller: self.function.clone(),
                    module: self.module.clone(),
                    callee,
                }),
                Pass::Check => {
                    let blocked = self
                        .blocking_fns
                        .iter()
                        .find(|key| names(&callee, &self.module, key));
                    if let Some(key) = blocked.cloned() {
                        self.flag(format!("{key}, which blocks"));
                    }
                }
            }
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

/// The blocking calls on the executor in one crate's files, each with its label.
fn blocking_calls<'f>(
    files: impl Iterator<Item = (String, &'f [String], &'f syn::File)> + Clone,
) -> Vec<String> {
    let none = HashSet::new();
    let (mut blocking, mut calls) = (HashSet::new(), Vec::new());
    for (_, module, file) in files.clone() {
        let mut catalog = Finder::new(file, module.to_vec(), Pass::Catalog, &none);
        catalog.visit_file(file);
        blocking.extend(catalog.blocking_in);
        calls.extend(catalog.calls);
    }
    // A function calling a blocking one blocks too.
    loop {
        let known = blocking.len();
        for call in &calls {
            if call.blocks(&blocking) {
                blocking.insert(call.caller.clone());
            }
        }
        if blocking.len() == known {
            break;
        }
    }
    let mut found = Vec::new();
    for (label, module, file) in files {
        let mut check = Finder::new(file, module.to_vec(), Pass::Check, &blocking);
        check.visit_file(file);
        found.extend(check.found.into_iter().map(|f| format!("{label}{f}")));
    }
    found
}

/// The blocking calls on the executor in one source file.
fn blocking_calls_in(source: &str) -> Vec<String> {
    let file = parse_without_tests(source).expect("the source parses");
    blocking_calls(std::iter::once((String::new(), [].as_slice(), &file)))
}

#[test]
fn components_keep_blocking_calls_off_the_executor() {
    let mut found = Vec::new();
    for crate_dir in [
        "services/node",
        "services/walrus",
        "services/soap",
        "services/kit",
        "services/cluster",
        "services/cloud",
        "services/up",
    ] {
        let files = crate_sources(crate_dir);
        found.extend(blocking_calls(files.iter().map(|f| {
            (
                format!("{}: ", f.path.display()),
                f.module.as_slice(),
                &f.syntax,
            )
        })));
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
        fn write_file() { fs::write("x", b"").unwrap(); }
        fn via_write_file() { write_file(); }
        struct Cache;
        impl Cache {
            fn open() -> Self { Self::create(); Cache }
            fn create() { fs::create_dir_all("x").unwrap(); }
        }
        async fn calls_blocking() { write_file(); crate::via_write_file(); }
        async fn calls_associated() { let _ = Cache::open(); }
    "#;
    assert_eq!(
        blocking_calls_in(planted),
        [
            "in direct: std::fs::read",
            "in imported: std::fs::write",
            "in imported_type: std::fs::File::open",
            "in sqlite: rusqlite::Connection::open",
            "in path_method: .exists()",
            "in sync_with_async_block: std::fs::metadata",
            "in in_a_closure: std::fs::read",
            "in calls_blocking: write_file, which blocks",
            "in calls_blocking: via_write_file, which blocks",
            "in calls_associated: Cache::open, which blocks",
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
        fn write_file() { fs::write("x", b"").unwrap(); }
        fn pure() -> u32 { 1 }
        async fn calls_handed_off() {
            kit::blocking(write_file).await;
            kit::blocking(|| write_file()).await;
            let _ = pure();
        }
        #[cfg(test)]
        mod tests { async fn t() { std::fs::read("x").unwrap(); } }
    "#;
    assert_eq!(blocking_calls_in(sanctioned), Vec::<String>::new());
}
