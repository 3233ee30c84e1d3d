//! The node controller: instances from launch to Teardown, over the hypervisor, the image
//! cache and the record store.
//!
//! Concurrency: the table of instances sits behind one short-lived lock, under which every
//! change is also submitted to the store (so the disk sees changes in the order they were
//! made). Each instance also has a domain lock, held while its domain is created, rebooted,
//! changed or destroyed, so those never interleave. A launch stages its files in a task of
//! its own and can be canceled until its domain exists.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{watch, Mutex as AsyncMutex};
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::console;
use crate::domain_xml::DomainSpec;
use crate::error::NodeError;
use crate::hypervisor::Hypervisor;
use crate::images::{ImageCache, Placement};
use crate::instances::{plain_name, ImageRef, InstanceRecord, Reported, State, Volume};
use crate::resources::Capacity;
use crate::sensors::Sensors;
use crate::store::{Persisted, Store};
use crate::volumes::VolumeDevice;
use crate::workdir::{Disks, WorkDir};

/// How often domains are checked on (the original's MONITORING_PERIOD).
const MONITOR_PERIOD: Duration = Duration::from_secs(5);
/// Checks in a row that find no domain before an instance is taken for gone (the
/// original's LIBVIRT_QUERY_RETRIES).
const MISSING_CHECKS: u32 = 5;
const GIB: u64 = 1 << 30;

/// One instance and what coordinates work on it.
#[derive(Debug)]
struct Slot {
    record: InstanceRecord,
    domain: Arc<AsyncMutex<()>>,
    cancel: watch::Sender<bool>,
    missing: u32,
}

impl Slot {
    fn new(record: InstanceRecord) -> Self {
        Self {
            record,
            domain: Arc::default(),
            cancel: watch::Sender::new(false),
            missing: 0,
        }
    }
}

/// How a launch ended early.
enum BootError {
    Canceled,
    Failed(String),
}

impl<E: std::fmt::Display> From<E> for BootError {
    fn from(e: E) -> Self {
        Self::Failed(e.to_string())
    }
}

/// What the node controller works with.
#[derive(Debug)]
pub struct Parts {
    pub config: Config,
    pub hypervisor: Arc<Hypervisor>,
    pub store: Store,
    pub images: Arc<ImageCache>,
    pub disks: Disks,
    pub capacity: Capacity,
    pub work_dir: PathBuf,
}

/// The node controller.
#[derive(Debug)]
pub struct NodeController {
    parts: Parts,
    slots: Mutex<HashMap<String, Slot>>,
    sensors: Sensors,
}

impl NodeController {
    /// Takes over `records` (as the store had them) and brings each to where it should be:
    /// launches resume, domains are found again (or, on the test driver, recreated), and
    /// instances whose domain vanished go to Teardown. Then starts the monitor and the
    /// sampling of the instances' counters.
    pub async fn start(parts: Parts, records: Vec<InstanceRecord>) -> Arc<Self> {
        let node = Arc::new(Self {
            sensors: Sensors::new(parts.config.sample_interval),
            parts,
            slots: Mutex::new(
                records
                    .into_iter()
                    .map(|r| (r.instance_id.clone(), Slot::new(r)))
                    .collect(),
            ),
        });
        node.recover().await;
        tokio::spawn(Arc::clone(&node).monitor());
        tokio::spawn(Arc::clone(&node).sample());
        node
    }

    /// The samples of the running instances' counters.
    pub fn sensors(&self) -> &Sensors {
        &self.sensors
    }

    // ----- operations -------------------------------------------------------------------

    /// Accepts a launch: checks it, records the instance as Pending and stages it in the
    /// background, as ncRunInstance did.
    pub async fn run(
        self: &Arc<Self>,
        record: InstanceRecord,
    ) -> Result<InstanceRecord, NodeError> {
        validate(&record)?;
        let id = record.instance_id.clone();
        let (persisted, cancel) = {
            let mut slots = self.slots();
            if slots.contains_key(&id) {
                return Err(NodeError::DuplicateInstance(id));
            }
            let available = self.parts.capacity.available(held(&slots));
            if let Some((resource, requested, available)) = available.shortfall(&record.size) {
                return Err(NodeError::Insufficient {
                    resource,
                    requested,
                    available,
                });
            }
            let slot = Slot::new(record.clone());
            let cancel = slot.cancel.subscribe();
            let persisted = self.parts.store.save(&record);
            slots.insert(id.clone(), slot);
            (persisted, cancel)
        };
        // Carried to its end even when the caller goes away meanwhile (its connection
        // dropped): the slot taken above boots, or is given back; it never stays Pending.
        let node = Arc::clone(self);
        kit::detached(async move {
            if let Err(e) = persisted.wait().await {
                node.slots().remove(&id);
                return Err(e.into());
            }
            info!(instance = %id, image = %record.image.id, memory_mb = record.size.memory_mb, cores = record.size.cores, disk_gb = record.size.disk_gb, "launching");
            tokio::spawn(node.boot(id, cancel));
            Ok(record)
        })
        .await
    }

    /// Stops the instance and releases what it holds. Returns its reported state before and
    /// after. A launch still staging is canceled and finishes its own cleanup.
    pub async fn terminate(self: &Arc<Self>, id: &str) -> Result<(Reported, Reported), NodeError> {
        let (previous, persisted) = {
            let mut slots = self.slots();
            let slot = slots
                .get_mut(id)
                .ok_or_else(|| NodeError::UnknownInstance(id.to_owned()))?;
            let previous = slot.record.state;
            let persisted = match previous {
                State::Booting => {
                    slot.record.state = State::Canceled;
                    slot.cancel.send_replace(true);
                    Some(self.parts.store.save(&slot.record))
                }
                _ => None,
            };
            (previous, persisted)
        };
        info!(instance = id, state = %previous, "terminating");
        match previous {
            State::Teardown => Ok((Reported::Teardown, Reported::Teardown)),
            State::Booting | State::Canceled => {
                if let Some(persisted) = persisted {
                    persisted.wait().await?;
                }
                Ok((Reported::Pending, Reported::Pending))
            }
            _ => {
                self.teardown(id, None).await?;
                Ok((previous.reported(), Reported::Teardown))
            }
        }
    }

    /// The instances `ids` names (all when empty) that `user` may see; Teardown instances
    /// past their time are forgotten first.
    pub async fn describe(&self, ids: &[String], user: Option<&str>) -> Vec<InstanceRecord> {
        self.forget_expired().await;
        let slots = self.slots();
        let mut records: Vec<_> = slots
            .values()
            .map(|s| &s.record)
            .filter(|r| ids.is_empty() || ids.contains(&r.instance_id))
            .filter(|r| user.is_none_or(|u| u == ADMIN_USER || u == r.user_id))
            .cloned()
            .collect();
        records
            .sort_by(|a, b| (a.launch_time, &a.instance_id).cmp(&(b.launch_time, &b.instance_id)));
        records
    }

    /// The node's capacity, and what of it instances leave free.
    pub fn resources(&self) -> (Capacity, Capacity) {
        let slots = self.slots();
        let total = self.parts.capacity;
        (total, total.available(held(&slots)))
    }

    /// Restarts the instance's domain in the background (the original's reboot thread).
    pub fn reboot(self: &Arc<Self>, id: &str) -> Result<(), NodeError> {
        let domain = self.require_running(id, "reboot")?;
        let node = Arc::clone(self);
        let id = id.to_owned();
        tokio::spawn(async move {
            let _domain = domain.lock().await;
            let Some(record) = node.record(&id).filter(|r| r.state.is_active()) else {
                return;
            };
            info!(instance = %id, "rebooting");
            let restarted = match node.parts.hypervisor.destroy(&id).await {
                Ok(_) => node.start_domain(&record).await,
                Err(e) => Err(e.to_string()),
            };
            if let Err(reason) = restarted {
                error!(instance = %id, %reason, "reboot failed; the instance will be torn down");
                node.set_state(&id, State::Shutoff).await;
            }
        });
        Ok(())
    }

    /// The instance's console as the guest wrote it (the last 64 KiB). A launch that failed
    /// answers with why it failed.
    pub async fn console(&self, id: &str) -> Result<Vec<u8>, NodeError> {
        let record = self
            .record(id)
            .ok_or_else(|| NodeError::UnknownInstance(id.to_owned()))?;
        if record.state == State::Teardown {
            return match record.failure {
                Some(reason) => Ok(format!("instance {id} failed: {reason}\n").into_bytes()),
                None => Err(NodeError::ConsoleGone(id.to_owned())),
            };
        }
        let log = self.work(id).console();
        console::tail(&log, console::MAX_CONSOLE)
            .await
            .map_err(|source| NodeError::Io {
                action: "cannot read the console log",
                path: log,
                source,
            })
    }

    /// Hot-plugs a volume into the running instance and records it.
    pub async fn attach(self: &Arc<Self>, id: &str, volume: Volume) -> Result<(), NodeError> {
        let domain = self.require_running(id, "attaching a volume")?;
        let device = VolumeDevice::new(
            self.parts.config.hypervisor,
            &volume.remote_dev,
            &volume.local_dev,
        )
        .await
        .map_err(|source| NodeError::Volume {
            volume: volume.volume_id.clone(),
            source,
        })?;
        let _domain = domain.lock().await;
        let record = self
            .record(id)
            .ok_or_else(|| NodeError::UnknownInstance(id.to_owned()))?;
        for other in &record.volumes {
            if other.volume_id == volume.volume_id {
                return Err(NodeError::VolumeAttached {
                    volume: volume.volume_id,
                    instance: id.to_owned(),
                });
            }
            if device_name(&other.local_dev) == device.target() {
                return Err(NodeError::DeviceTaken {
                    device: volume.local_dev,
                    instance: id.to_owned(),
                    volume: other.volume_id.clone(),
                });
            }
        }
        self.parts.hypervisor.attach(id, device.to_xml()).await?;
        info!(instance = id, volume = %volume.volume_id, remote = %volume.remote_dev, local = %volume.local_dev, "volume attached");
        self.change(id, |r| r.volumes.push(volume)).await
    }

    /// Unplugs a volume. With `force`, the record goes even if the hypervisor refuses.
    pub async fn detach(
        self: &Arc<Self>,
        id: &str,
        volume_id: &str,
        force: bool,
    ) -> Result<(), NodeError> {
        let domain = self.require_running(id, "detaching a volume")?;
        let _domain = domain.lock().await;
        let record = self
            .record(id)
            .ok_or_else(|| NodeError::UnknownInstance(id.to_owned()))?;
        let volume = record
            .volumes
            .iter()
            .find(|v| v.volume_id == volume_id)
            .ok_or_else(|| NodeError::VolumeNotAttached {
                volume: volume_id.to_owned(),
                instance: id.to_owned(),
            })?;
        let unplugged = match VolumeDevice::new(
            self.parts.config.hypervisor,
            &volume.remote_dev,
            &volume.local_dev,
        )
        .await
        {
            Ok(device) => self
                .parts
                .hypervisor
                .detach(id, device.to_xml())
                .await
                .map_err(NodeError::from),
            Err(source) => Err(NodeError::Volume {
                volume: volume_id.to_owned(),
                source,
            }),
        };
        match unplugged {
            Ok(()) => info!(instance = id, volume = volume_id, "volume detached"),
            Err(e) if force => {
                warn!(instance = id, volume = volume_id, error = %e, "forced detach: dropping the volume's record anyway");
            }
            Err(e) => return Err(e),
        }
        self.change(id, |r| r.volumes.retain(|v| v.volume_id != volume_id))
            .await
    }

    // ----- launch -----------------------------------------------------------------------

    async fn boot(self: Arc<Self>, id: String, mut cancel: watch::Receiver<bool>) {
        match self.stage_and_start(&id, &mut cancel).await {
            Ok(()) => {}
            Err(BootError::Canceled) => {
                info!(instance = %id, "launch canceled");
                self.teardown_logged(&id, None).await;
            }
            Err(BootError::Failed(reason)) => {
                error!(instance = %id, %reason, "instance failed to start");
                self.teardown_logged(&id, Some(reason)).await;
            }
        }
    }

    async fn stage_and_start(
        self: &Arc<Self>,
        id: &str,
        cancel: &mut watch::Receiver<bool>,
    ) -> Result<(), BootError> {
        let Some(record) = self.record(id) else {
            return Err(BootError::Canceled);
        };
        let work = self.work(id);
        work.create_empty().await?;
        let limit = record.size.disk_gb.saturating_mul(GIB);
        let root_placement = self.parts.disks.root_placement();
        let mut used = 0;
        let mut images: Vec<(&ImageRef, PathBuf, Placement)> =
            vec![(&record.kernel, work.kernel(), Placement::Shared)];
        if let Some(ramdisk) = &record.ramdisk {
            images.push((ramdisk, work.ramdisk(), Placement::Shared));
        }
        images.push((&record.image, work.image(), root_placement));
        for (image, dest, placement) in images {
            let fetch =
                self.parts
                    .images
                    .fetch(image, &dest, placement, limit.saturating_sub(used));
            used += tokio::select! {
                fetched = fetch => fetched?,
                _ = cancel.wait_for(|canceled| *canceled) => return Err(BootError::Canceled),
            };
        }
        if *cancel.borrow() {
            return Err(BootError::Canceled);
        }
        work.make_disks(
            &self.parts.disks,
            &record,
            used,
            self.parts.config.swap_size_mb,
        )
        .await?;

        let Some(domain) = self.with_slot(id, |s| Arc::clone(&s.domain)) else {
            return Err(BootError::Canceled);
        };
        let guard = domain.lock().await;
        if *cancel.borrow() {
            return Err(BootError::Canceled);
        }
        self.start_domain(&record)
            .await
            .map_err(BootError::Failed)?;
        // Terminate may have come while the domain was being created.
        let started = self.with_slot(id, |s| {
            if s.record.state == State::Booting {
                s.record.state = State::Running;
                Some(self.parts.store.save(&s.record))
            } else {
                None
            }
        });
        drop(guard);
        match started.flatten() {
            Some(persisted) => {
                persisted.wait().await?;
                info!(instance = %id, "instance running");
                Ok(())
            }
            None => Err(BootError::Canceled),
        }
    }

    /// Creates the domain from the record and what its work directory holds.
    async fn start_domain(&self, record: &InstanceRecord) -> Result<(), String> {
        let work = self.work(&record.instance_id);
        let layout = work.layout().await;
        let config = &self.parts.config;
        let mut volumes = Vec::new();
        for v in &record.volumes {
            match VolumeDevice::new(config.hypervisor, &v.remote_dev, &v.local_dev).await {
                Ok(device) => volumes.push(device),
                Err(e) => {
                    warn!(instance = %record.instance_id, volume = %v.volume_id, error = %e, "volume left out of the domain")
                }
            }
        }
        let bridge = config.bridge_for(record.net.vlan);
        let xml = DomainSpec {
            name: &record.instance_id,
            hypervisor: config.hypervisor,
            kvm_domain_type: &config.domain_type,
            memory_mb: record.size.memory_mb,
            cores: record.size.cores,
            layout: &layout,
            mac: &record.net.private_mac,
            bridge: bridge.as_deref(),
            volumes: &volumes,
        }
        .to_xml();
        if let Err(e) = tokio::fs::write(work.libvirt_xml(), &xml).await {
            warn!(instance = %record.instance_id, error = %e, "cannot keep a copy of the domain XML");
        }
        self.parts
            .hypervisor
            .create(&record.instance_id, xml)
            .await
            .map_err(|e| e.to_string())
    }

    // ----- teardown ---------------------------------------------------------------------

    /// Destroys the domain, removes the files and marks the instance Teardown, recording
    /// `failure` when it did not end by request.
    async fn teardown(&self, id: &str, failure: Option<String>) -> Result<(), NodeError> {
        let Some(domain) = self.with_slot(id, |s| Arc::clone(&s.domain)) else {
            return Ok(());
        };
        let _domain = domain.lock().await;
        if self.record(id).is_none_or(|r| r.state == State::Teardown) {
            return Ok(());
        }
        if self.parts.hypervisor.destroy(id).await? {
            info!(instance = id, "domain destroyed");
        }
        if !self.parts.config.keep_instance_files {
            if let Err(e) = self.work(id).remove().await {
                warn!(instance = id, error = %e, "cannot remove the instance's files");
            }
        }
        let now = unix_now();
        self.change(id, |r| {
            r.state = State::Teardown;
            r.termination_time = Some(now);
            r.failure = failure;
        })
        .await?;
        info!(instance = id, "instance in Teardown");
        Ok(())
    }

    async fn teardown_logged(&self, id: &str, failure: Option<String>) {
        if let Err(e) = self.teardown(id, failure).await {
            error!(instance = id, error = %e, "teardown failed; the monitor will try again");
        }
    }

    /// Drops Teardown records older than the retention time.
    async fn forget_expired(&self) {
        let cutoff = unix_now()
            - i64::try_from(self.parts.config.teardown_retention.as_secs()).unwrap_or(i64::MAX);
        let deletions: Vec<(String, Persisted)> = {
            let mut slots = self.slots();
            let expired: Vec<String> = slots
                .values()
                .filter(|s| {
                    s.record.state == State::Teardown
                        && s.record.termination_time.is_some_and(|t| t <= cutoff)
                })
                .map(|s| s.record.instance_id.clone())
                .collect();
            expired
                .into_iter()
                .map(|id| {
                    slots.remove(&id);
                    let persisted = self.parts.store.delete(&id);
                    (id, persisted)
                })
                .collect()
        };
        for (id, persisted) in deletions {
            match persisted.wait().await {
                Ok(()) => info!(instance = %id, "forgetting terminated instance"),
                Err(e) => error!(instance = %id, error = %e, "cannot delete the record"),
            }
        }
    }

    // ----- monitoring and recovery ------------------------------------------------------

    async fn monitor(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(MONITOR_PERIOD);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.check_domains().await;
            self.forget_expired().await;
        }
    }

    /// Every sample interval, reads the counters of each running instance's domain; the
    /// samples of instances no longer running are dropped.
    async fn sample(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(self.sensors.interval());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let running: HashMap<String, i64> = self
                .slots()
                .values()
                .filter(|s| s.record.state.is_active())
                .map(|s| (s.record.instance_id.clone(), s.record.launch_time))
                .collect();
            self.sensors.retain(|id| running.contains_key(id));
            for (id, launched) in &running {
                match self.parts.hypervisor.counters(id, launched * 1000).await {
                    Ok(Some(counters)) => {
                        self.sensors.record(id, kit::time::now_millis(), counters);
                    }
                    // Gone meanwhile: the monitor follows it up.
                    Ok(None) => {}
                    Err(e) => debug!(instance = %id, error = %e, "cannot sample the instance"),
                }
            }
        }
    }

    /// Follows each launched instance's domain; one that stopped or vanished is torn down,
    /// as the original's monitoring thread did.
    async fn check_domains(&self) {
        let watched: Vec<String> = {
            let slots = self.slots();
            slots
                .values()
                .filter(|s| {
                    !matches!(
                        s.record.state,
                        State::Booting | State::Canceled | State::Teardown
                    )
                })
                .map(|s| s.record.instance_id.clone())
                .collect()
        };
        for id in watched {
            match self.parts.hypervisor.state(&id).await {
                Ok(Some(state)) if matches!(state, State::Shutoff | State::Crashed) => {
                    info!(instance = %id, %state, "domain stopped");
                    self.teardown_logged(&id, None).await;
                }
                Ok(Some(state)) => {
                    self.with_slot(&id, |s| s.missing = 0);
                    self.set_state(&id, state).await;
                }
                Ok(None) => {
                    let missing = self.with_slot(&id, |s| {
                        s.missing += 1;
                        s.missing
                    });
                    if missing.is_some_and(|m| m >= MISSING_CHECKS) {
                        warn!(instance = %id, "domain gone; assuming it was shut off");
                        self.teardown_logged(&id, None).await;
                    }
                }
                Err(e) => warn!(instance = %id, error = %e, "cannot check the domain"),
            }
        }
    }

    async fn recover(self: &Arc<Self>) {
        let records: Vec<InstanceRecord> =
            self.slots().values().map(|s| s.record.clone()).collect();
        for record in records {
            let id = record.instance_id.clone();
            match record.state {
                State::Teardown => {
                    if !self.parts.config.keep_instance_files {
                        if let Err(e) = self.work(&id).remove().await {
                            warn!(instance = %id, error = %e, "cannot remove the instance's files");
                        }
                    }
                }
                State::Canceled => self.teardown_logged(&id, None).await,
                State::Booting => match self.parts.hypervisor.state(&id).await {
                    Ok(Some(state)) if state.is_active() => {
                        info!(instance = %id, "launch had completed; instance found running");
                        self.set_state(&id, state).await;
                    }
                    _ => {
                        info!(instance = %id, "resuming an interrupted launch");
                        let Some(cancel) = self.with_slot(&id, |s| s.cancel.subscribe()) else {
                            continue;
                        };
                        tokio::spawn(Arc::clone(self).boot(id, cancel));
                    }
                },
                _ => self.recover_domain(&record).await,
            }
        }
        self.remove_orphan_files().await;
    }

    async fn recover_domain(&self, record: &InstanceRecord) {
        let id = &record.instance_id;
        match self.parts.hypervisor.state(id).await {
            Ok(Some(state)) => {
                info!(instance = %id, %state, "found the instance's domain");
                self.set_state(id, state).await;
            }
            Ok(None) if !self.parts.hypervisor.keeps_domains() => {
                // The test driver forgot it with the last process: bring it back.
                match self.start_domain(record).await {
                    Ok(()) => info!(instance = %id, "recreated the instance's domain"),
                    Err(reason) => self.teardown_logged(id, Some(reason)).await,
                }
            }
            Ok(None) => {
                let reason = "its domain was gone when the node controller restarted".to_owned();
                warn!(instance = %id, %reason, "instance lost");
                self.teardown_logged(id, Some(reason)).await;
            }
            Err(e) => {
                warn!(instance = %id, error = %e, "cannot check the domain; the monitor will")
            }
        }
    }

    /// Removes work directories no instance owns (the original's scFSCK).
    async fn remove_orphan_files(&self) {
        let Ok(mut entries) = tokio::fs::read_dir(&self.parts.work_dir).await else {
            return;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let owned = self
                .record(&name)
                .is_some_and(|r| r.state != State::Teardown);
            if !owned && !self.parts.config.keep_instance_files {
                info!(dir = %entry.path().display(), "removing files of an instance no longer here");
                if let Err(e) = self.work(&name).remove().await {
                    warn!(error = %e, "cannot remove");
                }
            }
        }
    }

    // ----- helpers ----------------------------------------------------------------------

    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_slot<T>(&self, id: &str, f: impl FnOnce(&mut Slot) -> T) -> Option<T> {
        self.slots().get_mut(id).map(f)
    }

    fn record(&self, id: &str) -> Option<InstanceRecord> {
        self.with_slot(id, |s| s.record.clone())
    }

    fn work(&self, id: &str) -> WorkDir {
        WorkDir::new(&self.parts.work_dir, id)
    }

    /// Applies `f` to the record and waits until the change is on disk.
    async fn change(&self, id: &str, f: impl FnOnce(&mut InstanceRecord)) -> Result<(), NodeError> {
        let persisted = self
            .with_slot(id, |s| {
                f(&mut s.record);
                self.parts.store.save(&s.record)
            })
            .ok_or_else(|| NodeError::UnknownInstance(id.to_owned()))?;
        Ok(persisted.wait().await?)
    }

    /// Records a state the hypervisor reported, if it is news.
    async fn set_state(&self, id: &str, state: State) {
        let persisted = self.with_slot(id, |s| {
            (s.record.state != state && s.record.state != State::Teardown).then(|| {
                s.record.state = state;
                self.parts.store.save(&s.record)
            })
        });
        if let Some(persisted) = persisted.flatten() {
            if let Err(e) = persisted.wait().await {
                error!(instance = id, error = %e, "cannot record the instance's state");
            }
        }
    }

    /// The instance's domain lock, if the instance is running.
    fn require_running(
        &self,
        id: &str,
        action: &'static str,
    ) -> Result<Arc<AsyncMutex<()>>, NodeError> {
        self.with_slot(id, |s| {
            if s.record.state.is_active() {
                Ok(Arc::clone(&s.domain))
            } else {
                Err(NodeError::NotRunning {
                    id: id.to_owned(),
                    state: s.record.state.reported().name(),
                    action,
                })
            }
        })
        .ok_or_else(|| NodeError::UnknownInstance(id.to_owned()))?
    }
}

/// The user the cluster speaks as; it sees every instance (the original's EUCALYPTUS_ADMIN).
pub const ADMIN_USER: &str = "eucalyptus";

/// Sizes of the instances that hold resources.
fn held(slots: &HashMap<String, Slot>) -> impl Iterator<Item = &crate::instances::VmSize> {
    slots
        .values()
        .filter(|s| s.record.state.holds_resources())
        .map(|s| &s.record.size)
}

/// A device name without its `/dev/`.
fn device_name(local_dev: &str) -> &str {
    local_dev.strip_prefix("/dev/").unwrap_or(local_dev)
}

/// Checks what the node relies on before accepting a launch.
fn validate(record: &InstanceRecord) -> Result<(), NodeError> {
    let invalid = |field, reason: String| NodeError::Invalid { field, reason };
    if !plain_name(&record.instance_id) {
        return Err(invalid(
            "instanceId",
            format!(
                "{:?} is not a plain name (letters, digits, '-', '_', '.')",
                record.instance_id
            ),
        ));
    }
    for (field, value) in [
        ("instanceType.memory", record.size.memory_mb),
        ("instanceType.cores", record.size.cores),
        ("instanceType.disk", record.size.disk_gb),
    ] {
        if value == 0 {
            return Err(invalid(field, "must be a positive number".to_owned()));
        }
    }
    Ok(())
}

/// Now, in seconds since the Unix epoch (the unit of the records' times).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
