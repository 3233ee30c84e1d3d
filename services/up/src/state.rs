//! `HOME/up.json`: what `euca up` started (its own pid, each component's pid, URL and
//! restarts), rewritten on every change, for `euca status`.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::plan::{state_file, Plan};

/// Why HOME/up.json cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a record of euca up: {reason}")]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One component as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub url: String,
    /// None while it is not running (between a death and its restart).
    pub pid: Option<u32>,
    pub restarts: u32,
}

/// The record of one `euca up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub pid: u32,
    /// Of the `euca` binary that started every component.
    pub version: String,
    pub hypervisor: String,
    pub ec2_url: String,
    pub s3_url: String,
    pub storage_url: String,
    pub components: Vec<Entry>,
}

impl Record {
    pub fn new(plan: &Plan) -> Self {
        Self {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            hypervisor: plan.hypervisor.name().to_owned(),
            ec2_url: plan.front_door(cloud::SERVICE_PATH),
            s3_url: plan.front_door(walrus::SERVICE_PATH),
            storage_url: plan.front_door(storage::SERVICE_PATH),
            components: plan
                .components
                .iter()
                .map(|c| Entry {
                    name: c.name.to_owned(),
                    url: c.url.clone(),
                    pid: None,
                    restarts: 0,
                })
                .collect(),
        }
    }

    pub fn entry_mut(&mut self, name: &str) -> Option<&mut Entry> {
        self.components.iter_mut().find(|e| e.name == name)
    }

    /// The pid of the `euca up` that wrote this, if that process still runs.
    pub fn running_pid(&self) -> Option<u32> {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.pid).ok()?)?;
        // Signal 0 only asks whether the process exists.
        rustix::process::test_kill_process(pid).ok()?;
        Some(self.pid)
    }

    pub fn read(home: &Path) -> Result<Self, StateError> {
        let path = state_file(home);
        let text = std::fs::read_to_string(&path).map_err(|source| StateError::Read {
            path: path.clone(),
            source,
        })?;
        let malformed = |reason: &str| StateError::Malformed {
            path: path.clone(),
            reason: reason.to_owned(),
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| malformed(&e.to_string()))?;
        let text_field = |v: &Value, name: &str| {
            v[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| malformed(&format!("no {name}")))
        };
        let number = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
        let components = value["components"]
            .as_array()
            .ok_or_else(|| malformed("no components"))?
            .iter()
            .map(|c| {
                Ok(Entry {
                    name: text_field(c, "name")?,
                    url: text_field(c, "url")?,
                    pid: number(&c["pid"]),
                    restarts: number(&c["restarts"]).unwrap_or(0),
                })
            })
            .collect::<Result<_, StateError>>()?;
        Ok(Self {
            pid: number(&value["pid"]).ok_or_else(|| malformed("no pid"))?,
            version: text_field(&value, "version")?,
            hypervisor: text_field(&value, "hypervisor")?,
            ec2_url: text_field(&value, "ec2_url")?,
            s3_url: text_field(&value, "s3_url")?,
            storage_url: text_field(&value, "storage_url")?,
            components,
        })
    }

    /// Writes the record whole (to a new file renamed over the old, so a reader never sees
    /// half of one).
    pub fn write(&self, home: &Path) -> Result<(), StateError> {
        let path = state_file(home);
        let value = json!({
            "pid": self.pid,
            "version": self.version,
            "hypervisor": self.hypervisor,
            "ec2_url": self.ec2_url,
            "s3_url": self.s3_url,
            "storage_url": self.storage_url,
            "components": self.components.iter().map(|e| json!({
                "name": e.name,
                "url": e.url,
                "pid": e.pid,
                "restarts": e.restarts,
            })).collect::<Vec<_>>(),
        });
        let fresh = path.with_extension("json.new");
        let write_error = |source| StateError::Write {
            path: path.clone(),
            source,
        };
        std::fs::write(&fresh, format!("{value:#}\n")).map_err(write_error)?;
        std::fs::rename(&fresh, &path).map_err(write_error)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::Hypervisor;

    #[test]
    fn a_record_reads_back_as_written() {
        let home = tempfile::tempdir().unwrap();
        let plan = Plan::new(
            home.path().to_owned(),
            "127.0.0.1".parse().unwrap(),
            9100,
            Hypervisor::Test,
        );
        let mut record = Record::new(&plan);
        let node = record.entry_mut("node").unwrap();
        node.pid = Some(4242);
        node.restarts = 2;
        record.write(home.path()).unwrap();
        assert_eq!(Record::read(home.path()).unwrap(), record);
        assert_eq!(record.running_pid(), Some(std::process::id()));
    }

    #[test]
    fn a_stranger_file_is_malformed() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(state_file(home.path()), "{\"pid\": 1}").unwrap();
        let e = Record::read(home.path()).unwrap_err();
        assert!(matches!(e, StateError::Malformed { .. }), "{e}");
    }
}
