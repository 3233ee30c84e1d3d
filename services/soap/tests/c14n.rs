//! Exclusive C14N against the W3C specification's examples and, byte for byte, against
//! libxml2's implementation (through lxml) on a corpus of documents.
//!
//! Fixtures live in `tests/fixtures/c14n/`:
//! - `w3c/NAME.xml` with the expected canonical form `w3c/NAME.c14n` and optionally the apex
//!   path in `w3c/NAME.apex` (the document element when absent);
//! - `corpus/NAME.xml` with `corpus/NAME.cases`: one case a line, `APEX | PREFIXES`, where APEX
//!   is a path such as `/Envelope/Body/*[1]` (child elements by local name, `*` for any, an
//!   optional 1-based index among the matches) and PREFIXES the InclusiveNamespaces
//!   PrefixList. The expected bytes are computed at test time by `tests/py/c14n_lxml.py`.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use soap::c14n::exclusive;
use xmlbind::{parse, Element, Limits};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/c14n")
}

/// The Python interpreter with lxml: `$EUCA_PYTHON`, else `<workspace>/.venv/bin/python`.
fn python() -> PathBuf {
    let path = std::env::var_os("EUCA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    assert!(
        path.exists(),
        "Python with lxml not found at {}: run scripts/setup.sh",
        path.display()
    );
    path
}

/// Files in `dir` ending in `.xml`, sorted.
fn documents(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
}

/// Follows an apex path (see the module documentation) from the document element.
fn find<'a>(root: &'a Element, path: &str) -> &'a Element {
    let mut steps = path.split('/').filter(|s| !s.is_empty()).map(|step| {
        let (name, index) = match step.split_once('[') {
            Some((name, index)) => (name, index.trim_end_matches(']').parse::<usize>().unwrap()),
            None => (step, 1),
        };
        (name, index)
    });
    let mut element = root;
    if let Some((name, index)) = steps.next() {
        assert!(
            index == 1 && (name == "*" || name == root.name.local),
            "{path}: root mismatch"
        );
    }
    for (name, index) in steps {
        element = element
            .elements()
            .filter(|e| name == "*" || e.name.local == name)
            .nth(index - 1)
            .unwrap_or_else(|| panic!("{path}: no {name}[{index}]"));
    }
    element
}

fn canonicalize(file: &Path, apex: &str, prefixes: &[&str]) -> Vec<u8> {
    let root = parse(&fs::read(file).unwrap(), &Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    exclusive(find(&root, apex), prefixes)
}

#[derive(Debug, Clone)]
struct Case {
    file: PathBuf,
    apex: String,
    prefixes: Vec<String>,
}

impl Case {
    fn prefixes(&self) -> Vec<&str> {
        self.prefixes.iter().map(String::as_str).collect()
    }

    fn names_default(&self) -> bool {
        self.prefixes.iter().any(|p| p == "#default")
    }
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.file.file_name().unwrap().to_string_lossy();
        write!(
            f,
            "{name} apex {} prefixes [{}]",
            self.apex,
            self.prefixes.join(" ")
        )
    }
}

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    for file in documents(&fixtures().join("corpus")) {
        let spec = fs::read_to_string(file.with_extension("cases"))
            .unwrap_or_else(|e| panic!("{}: no .cases file: {e}", file.display()));
        for line in spec
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (apex, prefixes) = line.split_once('|').unwrap_or((line, ""));
            cases.push(Case {
                file: file.clone(),
                apex: apex.trim().to_owned(),
                prefixes: prefixes.split_whitespace().map(str::to_owned).collect(),
            });
        }
    }
    cases
}

/// Runs `tests/py/c14n_lxml.py` once over all `(engine, case)` jobs.
fn reference(jobs: &[(&str, &Case)]) -> Vec<Result<Vec<u8>, String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/c14n_lxml.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = jobs
        .iter()
        .map(|(engine, c)| {
            format!(
                "{engine}\t{}\t{}\t{}\n",
                c.file.display(),
                c.apex,
                c.prefixes.join(" ")
            )
        })
        .collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success(), "c14n_lxml.py failed");
    let lines: Vec<Result<Vec<u8>, String>> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| match line.strip_prefix('!') {
            Some(error) => Err(error.to_owned()),
            None => Ok(unhex(line)),
        })
        .collect();
    assert_eq!(
        lines.len(),
        jobs.len(),
        "c14n_lxml.py answered {} of {} jobs",
        lines.len(),
        jobs.len()
    );
    lines
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// The engine that serves as reference for a case: lxml, except for prefix lists naming
/// `#default`, which lxml drops before calling libxml2 (see c14n_lxml.py).
fn engine(case: &Case) -> &'static str {
    if case.names_default() {
        "libxml2"
    } else {
        "lxml"
    }
}

fn compare(what: &str, ours: &[u8], theirs: &[u8]) -> Option<String> {
    (ours != theirs).then(|| {
        format!(
            "{what}\n  ours:   {}\n  theirs: {}",
            String::from_utf8_lossy(ours),
            String::from_utf8_lossy(theirs)
        )
    })
}

#[test]
fn w3c_specification_examples() {
    let dir = fixtures().join("w3c");
    let examples = documents(&dir);
    assert!(
        examples.len() >= 6,
        "W3C examples missing from {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for file in &examples {
        let apex = fs::read_to_string(file.with_extension("apex")).unwrap_or_else(|_| "/".into());
        let expected = fs::read(file.with_extension("c14n")).unwrap();
        let ours = canonicalize(file, apex.trim(), &[]);
        failures.extend(compare(&file.display().to_string(), &ours, &expected));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_matches_lxml_byte_for_byte() {
    let cases = corpus();
    let documents = documents(&fixtures().join("corpus"));
    assert!(
        documents.len() >= 30,
        "the corpus has {} documents, 30 wanted",
        documents.len()
    );
    for file in &documents {
        let own: Vec<&Case> = cases.iter().filter(|c| &c.file == file).collect();
        assert!(
            own.iter().any(|c| c.apex == "/" && c.prefixes.is_empty())
                && own
                    .iter()
                    .any(|c| c.apex.split('/').filter(|s| !s.is_empty()).count() > 1)
                && own.iter().any(|c| !c.prefixes.is_empty()),
            "{}: needs a whole-document case, an inner apex and an inclusive prefix list",
            file.display()
        );
    }

    let jobs: Vec<(&str, &Case)> = cases.iter().map(|c| (engine(c), c)).collect();
    let mut failures = Vec::new();
    for ((engine, case), theirs) in jobs.iter().zip(reference(&jobs)) {
        let ours = canonicalize(&case.file, &case.apex, &case.prefixes());
        match theirs {
            Ok(theirs) => failures.extend(compare(&format!("{case} ({engine})"), &ours, &theirs)),
            Err(error) => failures.push(format!("{case}: {engine} failed: {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The libxml2 route stands in for lxml where lxml cannot express `#default`; on every other
/// case the two must agree, or the stand-in proves nothing.
#[test]
fn libxml2_route_agrees_with_lxml() {
    let cases: Vec<Case> = corpus()
        .into_iter()
        .filter(|c| !c.names_default())
        .collect();
    let jobs: Vec<(&str, &Case)> = cases
        .iter()
        .flat_map(|c| [("lxml", c), ("libxml2", c)])
        .collect();
    let answers = reference(&jobs);
    let mut failures = Vec::new();
    for (pair, case) in answers.chunks(2).zip(&cases) {
        match (&pair[0], &pair[1]) {
            (Ok(lxml), Ok(libxml2)) => {
                failures.extend(compare(&case.to_string(), libxml2, lxml));
            }
            (a, b) => failures.push(format!("{case}: {a:?} / {b:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Canonical output re-parsed and canonicalized again is unchanged.
#[test]
fn canonical_form_is_a_fixed_point() {
    for case in corpus() {
        let once = canonicalize(&case.file, &case.apex, &case.prefixes());
        let root = parse(&once, &Limits::default()).unwrap_or_else(|e| panic!("{case}: {e}"));
        let twice = exclusive(&root, &case.prefixes());
        assert_eq!(
            String::from_utf8_lossy(&twice),
            String::from_utf8_lossy(&once),
            "{case}"
        );
    }
}
