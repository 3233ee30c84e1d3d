//! Golden tests (xsd-parser-rs style): each folder under `tests/golden/` holds `input.wsdl`,
//! the Rust the generator must make of it (`expected.rs`) and a message of that schema
//! (`sample.xml`, read by `services/wire/tests/golden_samples.rs`). Code is compared as a
//! syntax tree, so formatting and comments do not count; a mismatch prints a line diff.
//!
//! `CODEGEN_BLESS=1 cargo test -p codegen --test golden` rewrites `expected.rs` from the
//! current output; review that diff like any other change.

use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn check(case: &str) {
    let dir = golden_dir().join(case);
    // Relative, so that expected.rs compiles wherever the checkout is.
    let options = codegen::Options {
        wsdl_include_path: Some("input.wsdl".to_owned()),
    };
    let generated = codegen::generate(&dir.join("input.wsdl"), &options)
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    let expected_path = dir.join("expected.rs");
    if std::env::var_os("CODEGEN_BLESS").is_some() {
        std::fs::write(&expected_path, &generated.code).unwrap_or_else(|e| panic!("{case}: {e}"));
        return;
    }
    let expected_text =
        std::fs::read_to_string(&expected_path).unwrap_or_else(|e| panic!("{case}: {e}"));
    let expected =
        syn::parse_file(&expected_text).unwrap_or_else(|e| panic!("{case}: expected.rs: {e}"));
    let actual =
        syn::parse_file(&generated.code).unwrap_or_else(|e| panic!("{case}: generated code: {e}"));
    if expected != actual {
        panic!(
            "{case}: the generated code differs from expected.rs (- expected, + generated):\n{}",
            diff(
                &prettyplease::unparse(&expected),
                &prettyplease::unparse(&actual)
            )
        );
    }
}

macro_rules! golden {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                check(stringify!($case));
            }
        )*

        const CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

golden!(
    sequence,
    extension_abstract_base,
    optional,
    repeated,
    nillable,
    enumeration,
    choice,
    polymorphic,
    attributes,
    include,
    recursion,
);

/// A folder added without a test would never be checked.
#[test]
fn every_case_folder_is_tested() {
    let mut folders: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("tests/golden")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut cases: Vec<&str> = CASES.to_vec();
    cases.sort_unstable();
    assert_eq!(folders, cases);
}

/// A line diff (longest common subsequence) showing changed lines with two lines of context.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut lines = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            lines.push(('+', b[j]));
            j += 1;
        } else {
            lines.push(('-', a[i]));
            i += 1;
        }
    }
    let changed: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, (tag, _))| *tag != ' ')
        .map(|(n, _)| n)
        .collect();
    let near_change = |n: usize| changed.iter().any(|c| c.abs_diff(n) <= 2);
    let mut out = String::new();
    let mut skipped = false;
    for (n, (tag, line)) in lines.iter().enumerate() {
        if near_change(n) {
            out.push_str(&format!("{tag} {line}\n"));
            skipped = false;
        } else if !skipped {
            out.push_str("  ...\n");
            skipped = true;
        }
    }
    out
}
