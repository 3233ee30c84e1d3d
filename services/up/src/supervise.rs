//! The components as child processes of `euca up`: each started as `euca NAME ...` with its
//! output in HOME/logs/NAME.log, restarted with back-off when it dies, and stopped with
//! SIGTERM (SIGKILL after a grace period) when the cloud stops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tokio::sync::{watch, Mutex};
use tracing::{error, info, warn};

use crate::plan::Component;
use crate::state::Record;

/// The environment variable that tells a component `euca up` supervises it: the
/// supervisor's pid (see [`crate::follow_supervisor`]).
pub const SUPERVISOR_ENV: &str = "EUCA_SUPERVISOR_PID";

/// The first wait before a restart, doubled after each death up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A component that ran this long before it died is restarted after [`FIRST_BACKOFF`] again.
const STABLE: Duration = Duration::from_secs(60);
/// How long a component may take to stop after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(20);

/// What every component's task shares.
#[derive(Debug, Clone)]
pub struct Shared {
    pub exe: PathBuf,
    pub home: PathBuf,
    pub logs: PathBuf,
    pub record: Arc<Mutex<Record>>,
}

impl Shared {
    /// Changes the record and writes it to HOME/up.json, one change at a time.
    async fn update(&self, change: impl FnOnce(&mut Record)) {
        let mut record = self.record.lock().await;
        change(&mut record);
        let (copy, home) = (record.clone(), self.home.clone());
        if let Err(e) = kit::blocking(move || copy.write(&home)).await {
            warn!(error = %e, "cannot record the components for euca status");
        }
    }
}

/// Runs `component` until `stop` turns true: starts it, and starts it again after each
/// death, waiting longer after each death in a row.
pub async fn keep_running(component: Component, shared: Shared, mut stop: watch::Receiver<bool>) {
    let name = component.name;
    if let Some(needed) = &component.needs {
        tokio::select! {
            () = appears(needed) => {}
            _ = stop.changed() => return,
        }
    }
    let mut backoff = FIRST_BACKOFF;
    while !*stop.borrow() {
        let started = Instant::now();
        match spawn(&component, &shared).await {
            Ok(mut child) => {
                let pid = child.id();
                shared
                    .update(|r| {
                        if let Some(e) = r.entry_mut(name) {
                            e.pid = pid;
                        }
                    })
                    .await;
                tokio::select! {
                    status = child.wait() => {
                        let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                        if *stop.borrow() {
                            break;
                        }
                        error!(component = name, pid, %status, ran = ?started.elapsed(), "component died");
                    }
                    _ = stop.changed() => {
                        terminate(name, &mut child).await;
                        break;
                    }
                }
            }
            Err(e) => error!(component = name, error = %e, "cannot start the component"),
        }
        if started.elapsed() > STABLE {
            backoff = FIRST_BACKOFF;
        }
        warn!(component = name, after = ?backoff, "restarting the component");
        shared
            .update(|r| {
                if let Some(e) = r.entry_mut(name) {
                    e.pid = None;
                    e.restarts += 1;
                }
            })
            .await;
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => break,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    shared
        .update(|r| {
            if let Some(e) = r.entry_mut(name) {
                e.pid = None;
            }
        })
        .await;
}

/// Starts `euca NAME ...` with its output appended to HOME/logs/NAME.log, in a process
/// group of its own: a Ctrl-C at the terminal reaches `euca up` alone, which stops the
/// components in its own time instead of seeing them die and restarting them.
async fn spawn(component: &Component, shared: &Shared) -> std::io::Result<Child> {
    let log = kit::blocking({
        let path = shared.logs.join(format!("{}.log", component.name));
        move || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        }
    })
    .await?;
    let mut command = Command::new(&shared.exe);
    command
        .args(&component.args)
        .env(SUPERVISOR_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .kill_on_drop(true);
    let child = command.spawn()?;
    info!(
        component = component.name,
        pid = child.id(),
        "component started"
    );
    Ok(child)
}

/// Returns once `path` exists.
async fn appears(path: &Path) {
    const POLL: Duration = Duration::from_millis(10);
    while !tokio::fs::try_exists(path).await.unwrap_or(false) {
        tokio::time::sleep(POLL).await;
    }
}

/// SIGTERM, then SIGKILL if it has not ended within [`GRACE`].
async fn terminate(name: &str, child: &mut Child) {
    let Some(pid) = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
        warn!(component = name, error = %e, "cannot send SIGTERM");
    }
    match tokio::time::timeout(GRACE, child.wait()).await {
        Ok(Ok(status)) => info!(component = name, %status, "component stopped"),
        Ok(Err(e)) => warn!(component = name, error = %e, "cannot wait for the component"),
        Err(_) => {
            warn!(component = name, grace = ?GRACE, "component still running after SIGTERM: killed");
            let _ = child.kill().await;
        }
    }
}
