//! zeep (or another Python client) serving calls over a pipe: one JSON line per call in,
//! the reply flattened into `path=value` lines out, then a line `.` (see tests/py/cluster_zeep.py
//! and tests/py/storage_zeep.py).

#![allow(clippy::unwrap_used)]
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// What zeep received: the reply flattened into `path=value` pairs, or `fault`.
#[derive(Debug, Clone)]
pub struct Reply(pub BTreeMap<String, String>);

impl Reply {
    pub fn get(&self, path: &str) -> Option<&str> {
        self.0.get(path).map(String::as_str)
    }

    /// `return` was true.
    pub fn ok(&self) -> bool {
        self.get("return") == Some("True")
    }

    pub fn fault(&self) -> Option<&str> {
        self.get("fault")
    }

    /// The values of `list.0.field`, `list.1.field`, ... (or `list.0`, ... with no field).
    pub fn column(&self, list: &str, field: Option<&str>) -> Vec<String> {
        (0..)
            .map(|i| match field {
                Some(f) => format!("{list}.{i}.{f}"),
                None => format!("{list}.{i}"),
            })
            .map_while(|path| self.get(&path).map(str::to_owned))
            .collect()
    }
}

/// A Python client of `tests/py`, serving calls over a pipe.
pub struct Zeep {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Zeep {
    /// Runs `tests/py/SCRIPT ARGS...`.
    pub fn spawn(script: &str, args: &[&OsStr]) -> Self {
        let script = crate::common::workspace_root()
            .join("tests/py")
            .join(script);
        let mut child = Command::new(crate::common::python())
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Calls `op` with `args` (a JSON object), signed by the cloud.
    pub fn call(&mut self, op: &str, args: &str) -> Reply {
        self.call_as("cloud", op, args)
    }

    /// Calls `op` signed by `signer`: `cloud`, `node` or `none`.
    pub fn call_as(&mut self, signer: &str, op: &str, args: &str) -> Reply {
        // One call per line.
        let args = args.replace('\n', " ");
        writeln!(
            self.stdin,
            r#"{{"op": "{op}", "signer": "{signer}", "args": {args}}}"#
        )
        .unwrap();
        self.stdin.flush().unwrap();
        let mut fields = BTreeMap::new();
        loop {
            let mut line = String::new();
            let read = self.stdout.read_line(&mut line).unwrap();
            assert!(read > 0, "zeep ended while answering {op}");
            let line = line.trim_end_matches('\n');
            if line == "." {
                return Reply(fields);
            }
            let (path, value) = line.split_once('=').unwrap();
            fields.insert(path.to_owned(), value.to_owned());
        }
    }

    /// Calls `op` until `done` accepts the reply; panics with the last reply after `limit`.
    pub fn until(
        &mut self,
        op: &str,
        args: &str,
        limit: Duration,
        done: impl Fn(&Reply) -> bool,
    ) -> Reply {
        let start = Instant::now();
        loop {
            let reply = self.call(op, args);
            if done(&reply) {
                return reply;
            }
            assert!(
                start.elapsed() < limit,
                "{op} not as expected after {limit:?}: {reply:?}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Zeep {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
