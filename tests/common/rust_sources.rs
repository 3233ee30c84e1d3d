//! The workspace's own Rust sources, parsed, for tests that check rules over the code.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// One source file of a crate.
#[derive(Debug)]
pub struct SourceFile {
    /// Relative to the workspace root.
    pub path: PathBuf,
    /// The module the file holds: `["bundle", "images"]` for `src/bundle/images.rs`, empty
    /// for `src/lib.rs`.
    pub module: Vec<String>,
    /// Without its test-only items.
    pub syntax: syn::File,
}

/// Every `.rs` file under `<workspace>/<crate_dir>/src`, parsed, in path order.
pub fn crate_sources(crate_dir: &str) -> Vec<SourceFile> {
    let root = super::workspace_root();
    let src = root.join(crate_dir).join("src");
    let mut paths = Vec::new();
    collect(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let syntax =
                parse_without_tests(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let relative = path.strip_prefix(&src).unwrap_or(&path);
            SourceFile {
                module: module_of(relative),
                path: path.strip_prefix(root).unwrap_or(&path).to_owned(),
                syntax,
            }
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `bundle/images.rs` → `bundle::images`; `bundle/mod.rs` → `bundle`; `lib.rs` → the root.
fn module_of(relative: &Path) -> Vec<String> {
    let mut module: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if module.len() == 1 && matches!(module[0].as_str(), "lib" | "main") {
        module.clear();
    } else if module.last().is_some_and(|last| last == "mod") {
        module.pop();
    }
    module
}

/// Parses a file and drops its test-only items (`#[cfg(test)]` modules, `#[test]`
/// functions): the rules checked over the sources are about what ships.
pub fn parse_without_tests(text: &str) -> syn::Result<syn::File> {
    fn strip(items: &mut Vec<syn::Item>) {
        items.retain(|item| match item {
            syn::Item::Mod(m) => !is_test_only(&m.attrs),
            syn::Item::Fn(f) => !is_test_only(&f.attrs),
            _ => true,
        });
        for item in items {
            if let syn::Item::Mod(syn::ItemMod {
                content: Some((_, inner)),
                ..
            }) = item
            {
                strip(inner);
            }
        }
    }
    let mut file = syn::parse_file(text)?;
    strip(&mut file.items);
    Ok(file)
}

/// Whether an item's attributes make it test-only code (`#[cfg(test)]`, `#[test]`,
/// `#[tokio::test]`).
fn is_test_only(attributes: &[syn::Attribute]) -> bool {
    attributes.iter().any(|attribute| {
        let path = attribute.path();
        if path.is_ident("cfg") {
            let mut test = false;
            // `cfg(test)` exactly; `cfg(not(test))` and friends are not test-only.
            let _ = attribute.parse_nested_meta(|meta| {
                test |= meta.path.is_ident("test");
                Ok(())
            });
            test
        } else {
            path.segments.last().is_some_and(|s| s.ident == "test")
        }
    })
}

/// The paths a `use` item brings in, each as its segments (`use a::{b, c as d}` → `a::b`,
/// `a::c`), with the name it is known by (`b`, `d`; `*` for a glob).
pub fn use_paths(tree: &syn::UseTree) -> Vec<(String, Vec<String>)> {
    fn walk(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                walk(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) if n.ident == "self" => {
                if let Some(last) = prefix.last() {
                    out.push((last.clone(), prefix.clone()));
                }
            }
            syn::UseTree::Name(n) => {
                let mut path = prefix.clone();
                path.push(n.ident.to_string());
                out.push((n.ident.to_string(), path));
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix.clone();
                if r.ident != "self" {
                    path.push(r.ident.to_string());
                }
                out.push((r.rename.to_string(), path));
            }
            syn::UseTree::Glob(_) => out.push(("*".to_owned(), prefix.clone())),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    walk(item, prefix, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(tree, &mut Vec::new(), &mut out);
    out
}

/// Every `use` in a file.
pub fn file_uses(file: &syn::File) -> Vec<(String, Vec<String>)> {
    #[derive(Default)]
    struct Uses(Vec<(String, Vec<String>)>);
    impl<'ast> Visit<'ast> for Uses {
        fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
            self.0.extend(use_paths(&item.tree));
        }
    }
    let mut uses = Uses::default();
    uses.visit_file(file);
    uses.0
}
