//! `euca up`: the whole cloud on this machine in one command, as the original composed it.
//! The CLC's port is the front door, serving the EC2 API and, forwarded to their own
//! processes, Walrus and the SC; a CC and an NC listen on the next two ports. Every
//! component is `euca` itself started as a child process ([`supervise`]), restarted when it
//! dies; `euca status` asks each one whether it answers.

mod guests;
pub mod plan;
pub mod preflight;
pub mod probe;
pub mod state;
pub mod supervise;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Mutex};
use tracing::{info, warn};

use crate::plan::{Hypervisor, Plan};
use crate::probe::{Health, Prober};
use crate::state::{Record, StateError};
use crate::supervise::{Shared, SUPERVISOR_ENV};

/// Run the whole cloud on this machine: the front door (EC2 API, and Walrus and the storage
/// controller behind it) on P, a cluster controller on P+1 and a node controller on P+2,
/// each its own process, restarted if it dies, until Ctrl-C or SIGTERM. The first run
/// creates the keys (DIR/keys) and the administrator's credentials
/// (DIR/credentials/admin/eucarc); `euca admin --data DIR` manages the cloud.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// The cloud's folder: the CLC's DATA, with keys, logs and each component's state in
    /// folders of their own.
    #[arg(long, value_name = "DIR", env = "EUCA_HOME", default_value = "var")]
    pub home: PathBuf,
    /// Address every component listens on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// The front door's port; the cloud takes this one and the next five (CC, NC,
    /// Walrus's and the SC's own, behind the front door, and the admin console's, HTTPS).
    #[arg(long, value_name = "P", default_value_t = 8773, value_parser = clap::value_parser!(u16).range(1..=65530))]
    pub port_base: u16,
    /// The node's hypervisor [default: kvm (QEMU through libvirt's embedded driver) where
    /// QEMU is installed, else test].
    #[arg(long, value_enum)]
    pub hypervisor: Option<Hypervisor>,
    /// An argument given to `euca node` as is, after euca up's own; repeat for each. For
    /// a benchmark's node: --node-arg=--capacity=cores=10000,memory=1280000,disk=20000 with
    /// --hypervisor test (see `euca node --help`).
    #[arg(long = "node-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub node_args: Vec<std::ffi::OsString>,
}

/// Show whether each component of the cloud `euca up` runs from DIR answers, and its
/// version.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The folder given to `euca up --home`.
    #[arg(long, value_name = "DIR", env = "EUCA_HOME", default_value = "var")]
    pub home: PathBuf,
}

/// Why `euca up` could not start.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    #[error("cannot start the cloud:\n{0}")]
    Refused(#[from] preflight::Refused),
    #[error("cannot find the euca binary to start the components: {0}")]
    Exe(std::io::Error),
    #[error("cannot create the keys: {0}")]
    Keys(#[from] soap::keys::KeyError),
    #[error("cannot prepare {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

/// How long a probe waits for a component's answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Time between two probes of the components while the cloud comes up.
const PROBE_INTERVAL: Duration = Duration::from_millis(20);
/// HOME's folder for the kernel and initramfs of `scripts/guest-image.sh`, the default
/// image under QEMU.
const GUEST_IMAGE: &str = "guest-image";
/// Longest wait for a component before the one that polls it starts anyway.
const AFTER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait, once every component answers, for a zone with room for an instance.
const ROOM_TIMEOUT: Duration = Duration::from_secs(30);
/// Time between two asks for the zones' room.
const ROOM_INTERVAL: Duration = Duration::from_millis(100);

/// `euca up`: checks everything, creates the keys, then runs the cloud until SIGTERM or
/// SIGINT.
pub fn main(args: UpArgs) -> ExitCode {
    let started = Instant::now();
    kit::main(
        "euca up",
        "cloud",
        || prepare(args),
        move |prepared| run(prepared, started),
    )
}

/// Everything before the first component starts: the preflight, HOME's folders and the
/// keys. Nothing runs yet if any of it fails.
fn prepare(args: UpArgs) -> Result<Prepared, UpError> {
    let hypervisor = preflight::hypervisor(args.hypervisor)
        .map_err(|problem| preflight::Refused(vec![problem]))?;
    let home = std::path::absolute(&args.home).map_err(|source| UpError::Folder {
        path: args.home.clone(),
        source,
    })?;
    let plan =
        Plan::new(home, args.host, args.port_base, hypervisor).with_node_args(&args.node_args);
    preflight::check(&plan)?;
    let exe = std::env::current_exe().map_err(UpError::Exe)?;
    for folder in [plan.logs(), plan.libvirt_root().join("etc")] {
        std::fs::create_dir_all(&folder).map_err(|source| UpError::Folder {
            path: folder.clone(),
            source,
        })?;
    }
    if plan.hypervisor == Hypervisor::Kvm {
        let root = plan.libvirt_root();
        guests::configure_driver(&root).map_err(|source| UpError::Folder { path: root, source })?;
    }
    for outcome in soap::keys::init(&plan.keys())? {
        if outcome.created {
            info!(role = outcome.role, certificate = %outcome.certificate.display(), "key pair created");
        }
    }
    let first_run = !plan.eucarc().exists();
    let record = Record::new(&plan);
    record.write(&plan.home)?;
    Ok(Prepared {
        plan,
        exe,
        record,
        first_run,
    })
}

/// What [`prepare`] leaves for [`run`].
#[derive(Debug)]
struct Prepared {
    plan: Plan,
    exe: PathBuf,
    record: Record,
    /// No administrator's credentials yet: the cloud is new.
    first_run: bool,
}

/// Starts every component, announces the cloud once all answer, and stops them all on
/// SIGTERM or SIGINT.
async fn run(prepared: Prepared, started: Instant) -> Result<(), UpError> {
    let Prepared {
        plan,
        exe,
        record,
        first_run,
    } = prepared;
    // Watched before anything starts: a signal at any point stops what has started.
    let termination = kit::termination();
    let shared = Shared {
        exe,
        home: plan.home.clone(),
        logs: plan.logs(),
        record: Arc::new(Mutex::new(record)),
    };
    info!(home = %plan.home.display(), hypervisor = plan.hypervisor.name(), "starting the cloud");
    let (stop, stopping) = watch::channel(false);
    let mut tasks = Vec::with_capacity(plan.components.len());
    tokio::pin!(termination);
    let ready = tokio::select! {
        () = async {
            for component in &plan.components {
                if let Some(first) = component.after {
                    wait_for_component(&plan, first).await;
                }
                tasks.push(tokio::spawn(supervise::keep_running(
                    component.clone(),
                    shared.clone(),
                    stopping.clone(),
                )));
            }
            wait_until_ready(&plan).await;
            wait_for_room(&plan).await;
        } => true,
        () = &mut termination => false,
    };
    if ready {
        announce(&plan, started, first_run);
        let image = async {
            if first_run {
                add_default_image(&shared, plan.hypervisor).await;
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            () = image => {}
            () = &mut termination => {}
        }
    }
    info!("stopping the cloud");
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    if plan.hypervisor == Hypervisor::Kvm {
        guests::stop_all(&plan.libvirt_root()).await;
    }
    let record = plan.record();
    kit::blocking(move || std::fs::remove_file(record))
        .await
        .ok();
    info!("cloud stopped");
    Ok(())
}

/// `euca admin --data HOME image add-default`: a first cloud gets an image RunInstances
/// can start at once. Its output goes to HOME/logs/add-default.log; a failure is reported
/// and leaves the cloud running.
async fn add_default_image(shared: &Shared, hypervisor: Hypervisor) {
    let log = shared.logs.join("add-default.log");
    let mut command = tokio::process::Command::new(&shared.exe);
    command
        .arg("admin")
        .arg("--data")
        .arg(&shared.home)
        .args(["image", "add-default"]);
    if hypervisor == Hypervisor::Kvm {
        // The test driver's stand-in boots no guest: under QEMU the image is the kernel and
        // initramfs of scripts/guest-image.sh, built into HOME/guest-image.
        let guest = shared.home.join(GUEST_IMAGE);
        let (kernel, ramdisk) = (guest.join("vmlinuz"), guest.join("initramfs.gz"));
        if kernel.is_file() && ramdisk.is_file() {
            command
                .arg("--kernel")
                .arg(kernel)
                .arg("--ramdisk")
                .arg(ramdisk);
        } else {
            warn!(
                "no guest in {0}: the default image is the test driver's stand-in, which QEMU cannot boot; \
                 build one with `sh scripts/guest-image.sh {0}`, then run `euca admin --data {1} image add-default \
                 --kernel {0}/vmlinuz --ramdisk {0}/initramfs.gz` on a new cloud",
                guest.display(),
                shared.home.display()
            );
        }
    }
    let output = command
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    match output {
        Ok(out) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let written = tokio::fs::write(&log, &text).await;
            if out.status.success() {
                let ids: Vec<&str> = out
                    .stdout
                    .split(|b| b.is_ascii_whitespace())
                    .filter_map(|w| std::str::from_utf8(w).ok())
                    .filter(|w| ["emi-", "eki-", "eri-"].iter().any(|p| w.starts_with(p)))
                    .collect();
                info!(images = ?ids, "default image registered");
                println!(
                    "  default image     {} (euca admin --data {} image add-default)",
                    ids.join(" "),
                    shared.home.display()
                );
            } else {
                tracing::error!(status = %out.status, log = %log.display(), "cannot add the default image");
            }
            if let Err(e) = written {
                warn!(log = %log.display(), error = %e, "cannot write the log");
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot run euca admin image add-default"),
    }
}

/// Every URL that must answer: each component on its own port, and Walrus and the SC
/// through the front door.
fn ready_urls(plan: &Plan) -> Vec<String> {
    let mut urls: Vec<String> = plan.components.iter().map(|c| c.url.clone()).collect();
    urls.push(plan.front_door(walrus::SERVICE_PATH));
    urls.push(plan.front_door(storage::SERVICE_PATH));
    urls
}

async fn wait_until_ready(plan: &Plan) {
    let prober = Prober::new(PROBE_TIMEOUT);
    let mut waiting = ready_urls(plan);
    while !waiting.is_empty() {
        let mut healths = prober.probe_all(&waiting).await.into_iter();
        waiting.retain(|_| !healths.next().is_some_and(|h| h.is_up()));
        if !waiting.is_empty() {
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }
}

/// Until the component named `name` answers, for at most [`AFTER_TIMEOUT`]: a cluster
/// started after its node answers, and a cloud after its cluster, know the zone's room from
/// their first poll instead of one poll period later; one that does not answer in time only
/// costs its dependant that wait.
async fn wait_for_component(plan: &Plan, name: &str) {
    let Some(first) = plan.components.iter().find(|c| c.name == name) else {
        return;
    };
    let prober = Prober::new(PROBE_TIMEOUT);
    let deadline = Instant::now() + AFTER_TIMEOUT;
    while !prober.probe(&first.url).await.is_up() {
        if Instant::now() >= deadline {
            warn!(
                component = name,
                waited_s = AFTER_TIMEOUT.as_secs(),
                "starting the next component without it"
            );
            return;
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// Until a zone has room for an instance (the CC has polled its node and the CLC the CC),
/// so that a RunInstances right after `cloud ready` is not refused for capacity; bounded by
/// [`ROOM_TIMEOUT`], after which the cloud is announced anyway with a warning.
async fn wait_for_room(plan: &Plan) {
    let deadline = Instant::now() + ROOM_TIMEOUT;
    let ec2 = plan.front_door(cloud::SERVICE_PATH);
    loop {
        let why = match cloud::default_image::zone_has_room(&plan.home, &ec2).await {
            Ok(true) => return,
            Ok(false) => "no zone has room for an instance".to_owned(),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            warn!(waited_s = ROOM_TIMEOUT.as_secs(), last = %why, "no capacity yet: RunInstances is refused until the cluster reports its nodes' room (see euca status and the cluster's log)");
            return;
        }
        tokio::time::sleep(ROOM_INTERVAL).await;
    }
}

/// Logs `cloud ready` and tells the user where everything is.
fn announce(plan: &Plan, started: Instant, first_run: bool) {
    let ec2 = plan.front_door(cloud::SERVICE_PATH);
    let elapsed = started.elapsed();
    info!(url = %ec2, cold_start_ms = elapsed.as_millis(), first_run, "cloud ready");
    let eucarc = plan.eucarc();
    let home = plan.home.display();
    let component = |name| {
        plan.components
            .iter()
            .find(|c| c.name == name)
            .map_or_else(String::new, |c| c.url.clone())
    };
    println!(
        "\neuca up: the cloud is ready ({:.2} s; hypervisor {}; state in {home})\n\
         \x20 EC2 (CLC)         {ec2}\n\
         \x20 S3 (Walrus)       {}\n\
         \x20 EBS (SC)          {}\n\
         \x20 cluster ({})  {}\n\
         \x20 node              {}\n\
         \x20 console           {} (account admin, password in {}/credentials/admin/console-password)\n\
         \x20 credentials       {}\n\
         \x20 logs              {}/\n\
         Next:\n\
         \x20 source {}\n\
         \x20 aws ec2 describe-availability-zones --endpoint-url \"$EC2_URL\"\n\
         \x20 aws s3 ls --endpoint-url \"$S3_URL\"\n\
         \x20 euca status --home {home}      euca admin --data {home} user add NAME\n\
         Stop with Ctrl-C.",
        elapsed.as_secs_f64(),
        plan.hypervisor.name(),
        plan.front_door(walrus::SERVICE_PATH),
        plan.front_door(storage::SERVICE_PATH),
        plan::CLUSTER_NAME,
        component("cluster"),
        component("node"),
        plan.console(),
        home,
        eucarc.display(),
        plan.logs().display(),
        eucarc.display(),
    );
}

/// `euca status`: each component's health, asked of the component itself. Exits 0 when
/// every one answers, 1 when one does not, 3 when no cloud was started from DIR.
pub fn status(args: StatusArgs) -> ExitCode {
    let record = match Record::read(&args.home) {
        Ok(record) => record,
        Err(StateError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "no cloud runs from {0} (no up.json): start one with euca up --home {0}",
                args.home.display()
            );
            return ExitCode::from(3);
        }
        Err(e) => {
            eprintln!("euca status: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("euca status: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let supervisor = record.running_pid();
    println!(
        "cloud from {} ({}; euca {}; hypervisor {})",
        args.home.display(),
        supervisor.map_or_else(
            || format!("euca up pid {} is gone", record.pid),
            |pid| format!("euca up pid {pid}")
        ),
        record.version,
        record.hypervisor
    );
    let mut rows: Vec<(String, String, String, u32)> = record
        .components
        .iter()
        .map(|e| {
            let pid = e.pid.map_or_else(|| "-".to_owned(), |p| p.to_string());
            (e.name.clone(), e.url.clone(), pid, e.restarts)
        })
        .collect();
    for (name, url) in [
        ("walrus via front door", &record.s3_url),
        ("storage via front door", &record.storage_url),
    ] {
        rows.push((name.to_owned(), url.clone(), "-".to_owned(), 0));
    }
    let urls: Vec<String> = rows.iter().map(|row| row.1.clone()).collect();
    let healths = runtime.block_on(Prober::new(PROBE_TIMEOUT).probe_all(&urls));
    println!(
        "{:<24} {:<8} {:<8} {:<9} {:<52} health",
        "component", "version", "pid", "restarts", "url"
    );
    for ((name, url, pid, restarts), health) in rows.iter().zip(&healths) {
        println!(
            "{name:<24} {:<8} {pid:<8} {restarts:<9} {url:<52} {health}",
            record.version
        );
    }
    if supervisor.is_some() && healths.iter().all(Health::is_up) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// In a component `euca up` started: stop (SIGTERM) when `euca up` ends, however it ends,
/// so a killed supervisor leaves no components behind. Does nothing elsewhere.
pub fn follow_supervisor() {
    let Some(supervisor) = std::env::var(SUPERVISOR_ENV)
        .ok()
        .and_then(|pid| pid.parse::<i32>().ok())
    else {
        return;
    };
    if rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
        .is_err()
    {
        return;
    }
    // The supervisor may have ended before the line above took effect.
    if rustix::process::getppid()
        .map(rustix::process::Pid::as_raw_nonzero)
        .map(std::num::NonZeroI32::get)
        != Some(supervisor)
    {
        std::process::exit(1);
    }
}
