//! What the `euca up` tests share: a cloud started with `euca up` on free ports in a
//! folder of its own, and what its `up.json` says it started.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::launcher::{euca, Component};

/// How many ports from the base a cloud takes (`up::plan::PORTS`).
pub const PORTS: u16 = 6;

/// A cloud run by `euca up`.
#[derive(Debug)]
pub struct Up {
    pub up: Component,
    pub home: PathBuf,
    pub port_base: u16,
}

/// A base port whose next [`PORTS`] ports are free now.
pub fn free_base() -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = first.local_addr().unwrap().port();
        drop(first);
        if base < 65000
            && (0..PORTS).all(|offset| TcpListener::bind(("127.0.0.1", base + offset)).is_ok())
        {
            return base;
        }
    }
    panic!("no {PORTS} free ports in a row");
}

/// `euca up --home HOME --port-base BASE --hypervisor test`, as a command.
pub fn up_command(home: &Path, port_base: u16) -> Command {
    up_command_for(home, port_base, "test")
}

/// `euca up --home HOME --port-base BASE --hypervisor HYPERVISOR`, as a command.
pub fn up_command_for(home: &Path, port_base: u16, hypervisor: &str) -> Command {
    let mut command = euca();
    command.arg("up").arg("--home").arg(home).args([
        "--port-base",
        &port_base.to_string(),
        "--hypervisor",
        hypervisor,
    ]);
    command
}

impl Up {
    /// Starts `euca up` in `home` on the test driver and waits for its `cloud ready` line.
    pub fn start(home: &Path) -> Self {
        Self::start_with(home, "test")
    }

    /// Starts `euca up --hypervisor HYPERVISOR` in `home` and waits for its `cloud ready`
    /// line.
    pub fn start_with(home: &Path, hypervisor: &str) -> Self {
        Self::try_start_with(home, hypervisor)
            .unwrap_or_else(|log| panic!("euca up did not become ready:\n{log}"))
    }

    /// [`Up::start_with`], or `euca up`'s log when it did not become ready.
    pub fn try_start_with(home: &Path, hypervisor: &str) -> Result<Self, String> {
        let port_base = free_base();
        let up = Component::start(up_command_for(home, port_base, hypervisor), "cloud")?;
        Ok(Self {
            up,
            home: home.to_owned(),
            port_base,
        })
    }

    /// The administrator's credentials folder.
    pub fn admin_dir(&self) -> String {
        self.home
            .join("credentials/admin")
            .to_string_lossy()
            .into_owned()
    }

    /// Each component's name and pid, as up.json records them.
    pub fn pids(&self) -> Vec<(String, Option<u32>)> {
        let text = std::fs::read_to_string(self.home.join("up.json")).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let pid = c["pid"].as_u64().map(|p| u32::try_from(p).unwrap());
                (c["name"].as_str().unwrap().to_owned(), pid)
            })
            .collect()
    }

    /// `euca status --home HOME`: its exit code and what it printed.
    pub fn status(&self) -> (Option<i32>, String) {
        let out = euca()
            .arg("status")
            .arg("--home")
            .arg(&self.home)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

/// Whether the process `pid` still runs (a zombie does not).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}
