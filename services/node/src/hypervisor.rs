//! The hypervisor, through libvirt: one connection for the life of the process (the test
//! driver's domains live only as long as it), calls serialized as the original did, each run
//! on tokio's blocking pool since libvirt blocks.

use std::sync::{Arc, Mutex, Once};
use std::thread;

use tokio::task;
use tracing::{debug, error, info};
use virt::connect::Connect;
use virt::domain::{Domain, DomainState};
use virt::error::{Error as VirtError, ErrorNumber};

use crate::config::HypervisorKind;
use crate::instances::State;
use crate::sensors::{Counters, DeviceCounters};

/// Why a hypervisor call failed.
#[derive(Debug, thiserror::Error)]
pub enum HypervisorError {
    #[error("cannot connect to the hypervisor at {uri}: {message}")]
    Connect { uri: String, message: String },
    #[error("the hypervisor could not {action} domain {domain}: {message}")]
    Domain {
        action: &'static str,
        domain: String,
        message: String,
    },
    #[error("hypervisor call did not complete: {0}")]
    Interrupted(String),
}

/// A libvirt connection and what it is.
#[derive(Debug)]
pub struct Hypervisor {
    connection: Connect,
    kind: HypervisorKind,
    /// Hypervisors "can get confused with too many simultaneous requests" (the original's
    /// words), so calls go one at a time.
    serial: Mutex<()>,
}

impl Hypervisor {
    /// Opens `uri`. Drivers other than the test driver get libvirt's event loop, which the
    /// embedded QEMU driver needs and keepalives use.
    pub fn connect(kind: HypervisorKind, uri: &str) -> Result<Arc<Self>, HypervisorError> {
        // libvirt's default handler prints every error, even expected ones, to stderr.
        virt::error::clear_error_callback();
        if kind != HypervisorKind::Test {
            start_event_loop();
        }
        let connection = Connect::open(Some(uri)).map_err(|e| HypervisorError::Connect {
            uri: uri.to_owned(),
            message: e.message().to_owned(),
        })?;
        info!(%uri, hypervisor = %kind, "connected to the hypervisor");
        Ok(Arc::new(Self {
            connection,
            kind,
            serial: Mutex::new(()),
        }))
    }

    /// Whether domains outlive this process. The test driver's do not: after a restart the
    /// node recreates them from its records.
    pub fn keeps_domains(&self) -> bool {
        self.kind != HypervisorKind::Test
    }

    /// Starts a transient domain from `xml`, as the original's virDomainCreateLinux did.
    pub async fn create(self: &Arc<Self>, name: &str, xml: String) -> Result<(), HypervisorError> {
        self.call(name, "start", move |h, _| {
            Ok(h.connection.create_domain_xml(&xml, 0).map(drop)?)
        })
        .await
    }

    /// Stops the domain at once. `Ok(false)` when there is no such domain.
    pub async fn destroy(self: &Arc<Self>, name: &str) -> Result<bool, HypervisorError> {
        self.call(name, "destroy", |h, name| match h.lookup(name)? {
            Some(domain) => Ok(domain.destroy().map(|()| true)?),
            None => Ok(false),
        })
        .await
    }

    /// The domain's state, `None` when there is no such domain.
    pub async fn state(self: &Arc<Self>, name: &str) -> Result<Option<State>, HypervisorError> {
        self.call(name, "inspect", |h, name| match h.lookup(name)? {
            Some(domain) => Ok(Some(from_libvirt(domain.state()?.0))),
            None => Ok(None),
        })
        .await
    }

    /// The domain's cumulative counters, `None` when there is no such domain. The test
    /// driver's are [`Counters::synthetic`] since `launched_ms`; a device whose counters
    /// libvirt cannot read (QEMU's user-mode networking has no tap device to count) is left
    /// out.
    pub async fn counters(
        self: &Arc<Self>,
        name: &str,
        launched_ms: i64,
    ) -> Result<Option<Counters>, HypervisorError> {
        self.call(name, "read the counters of", move |h, name| {
            let Some(domain) = h.lookup(name)? else {
                return Ok(None);
            };
            let info = domain.info()?;
            if h.kind == HypervisorKind::Test {
                let elapsed = kit::time::now_millis() - launched_ms;
                return Ok(Some(Counters::synthetic(elapsed, info.nr_virt_cpu)));
            }
            let devices = Devices::of(&domain.xml_desc(0)?);
            let read = |names: &[String], stats: &dyn Fn(&str) -> Result<[i64; 2], VirtError>| {
                names
                    .iter()
                    .filter_map(|device| match stats(device) {
                        Ok(bytes) => Some(DeviceCounters {
                            name: device.clone(),
                            bytes: bytes.map(|b| u64::try_from(b).unwrap_or(0)),
                        }),
                        Err(e) => {
                            debug!(domain = name, device, error = %e.message(), "no counters for the device");
                            None
                        }
                    })
                    .collect()
            };
            Ok(Some(Counters {
                cpu_ns: info.cpu_time,
                disks: read(&devices.disks, &|d| {
                    domain.block_stats(d).map(|s| [s.rd_bytes, s.wr_bytes])
                }),
                interfaces: read(&devices.interfaces, &|d| {
                    domain.interface_stats(d).map(|s| [s.rx_bytes, s.tx_bytes])
                }),
            }))
        })
        .await
    }

    /// Hot-plugs the device described by `xml` into the running domain.
    pub async fn attach(self: &Arc<Self>, name: &str, xml: String) -> Result<(), HypervisorError> {
        self.hotplug(name, "attach a device to", xml, Domain::attach_device)
            .await
    }

    /// Removes the device described by `xml` from the running domain.
    pub async fn detach(self: &Arc<Self>, name: &str, xml: String) -> Result<(), HypervisorError> {
        self.hotplug(name, "detach a device from", xml, Domain::detach_device)
            .await
    }

    async fn hotplug(
        self: &Arc<Self>,
        name: &str,
        action: &'static str,
        xml: String,
        plug: fn(&Domain, &str) -> Result<(), VirtError>,
    ) -> Result<(), HypervisorError> {
        self.call(name, action, move |h, name| {
            let domain = h.lookup(name)?.ok_or(Failure::NoDomain)?;
            match plug(&domain, &xml) {
                // The test driver has no devices to plug: the running domain stands for the
                // guest, and the record of the volume is all there is to change.
                Err(e) if h.kind == HypervisorKind::Test && is(&e, ErrorNumber::NoSupport) => {
                    debug!(domain = name, "test driver: device change recorded only");
                    Ok(())
                }
                other => Ok(other?),
            }
        })
        .await
    }

    fn lookup(&self, name: &str) -> Result<Option<Domain>, VirtError> {
        match self.connection.lookup_domain_by_name(name) {
            Ok(domain) => Ok(Some(domain)),
            Err(e) if is(&e, ErrorNumber::NoDomain) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs `f` on the blocking pool, one call at a time.
    async fn call<T, F>(
        self: &Arc<Self>,
        name: &str,
        action: &'static str,
        f: F,
    ) -> Result<T, HypervisorError>
    where
        T: Send + 'static,
        F: FnOnce(&Self, &str) -> Result<T, Failure> + Send + 'static,
    {
        let this = Arc::clone(self);
        let domain = name.to_owned();
        let result = task::spawn_blocking(move || {
            let _serial = this.serial.lock().unwrap_or_else(|p| p.into_inner());
            f(&this, &domain)
        })
        .await
        .map_err(|e| HypervisorError::Interrupted(e.to_string()))?;
        result.map_err(|failure| HypervisorError::Domain {
            action,
            domain: name.to_owned(),
            message: match failure {
                Failure::Libvirt(e) => e.message().to_owned(),
                Failure::NoDomain => "no such domain".to_owned(),
            },
        })
    }
}

/// The target names of a live domain's disks and interfaces, from its XML.
#[derive(Debug, Default, PartialEq, Eq)]
struct Devices {
    disks: Vec<String>,
    interfaces: Vec<String>,
}

impl Devices {
    /// Reads `xml` (as libvirt describes a running domain); what it cannot read has no
    /// devices.
    fn of(xml: &str) -> Self {
        let mut devices = Self::default();
        let Ok(document) = xmlbind::Document::parse(xml.as_bytes(), &xmlbind::Limits::default())
        else {
            return devices;
        };
        let Some(list) = document.root().child(None, "devices") else {
            return devices;
        };
        for device in list.elements() {
            let target = device
                .child(None, "target")
                .and_then(|t| t.attribute(None, "dev"))
                .map(str::to_owned);
            match target {
                Some(dev) if device.name().is(None, "disk") => devices.disks.push(dev),
                Some(dev) if device.name().is(None, "interface") => devices.interfaces.push(dev),
                _ => {}
            }
        }
        devices
    }
}

/// What a call on the blocking pool can end with.
enum Failure {
    Libvirt(VirtError),
    NoDomain,
}

impl From<VirtError> for Failure {
    fn from(e: VirtError) -> Self {
        Self::Libvirt(e)
    }
}

fn is(error: &VirtError, number: ErrorNumber) -> bool {
    error.code().is_known_and(|code| code == number)
}

fn from_libvirt(state: virt::domain::DomainStateEnum) -> State {
    match state.unwrap_or(DomainState::NoState) {
        DomainState::Running => State::Running,
        DomainState::Blocked | DomainState::PMSuspended => State::Blocked,
        DomainState::Paused => State::Paused,
        DomainState::Shutdown => State::Shutdown,
        DomainState::Shutoff => State::Shutoff,
        DomainState::Crashed => State::Crashed,
        // A domain without a state is still there; treat it as running until it says more.
        DomainState::NoState => State::Running,
    }
}

/// Registers libvirt's default event loop once per process and runs it on its own thread.
fn start_event_loop() {
    static START: Once = Once::new();
    START.call_once(|| {
        if let Err(e) = virt::event::event_register_default_impl() {
            error!(error = %e, "cannot register libvirt's event loop");
            return;
        }
        let spawned = thread::Builder::new()
            .name("libvirt-events".into())
            .spawn(|| loop {
                if let Err(e) = virt::event::event_run_default_impl() {
                    error!(error = %e, "libvirt's event loop failed");
                    return;
                }
            });
        if let Err(e) = spawned {
            error!(error = %e, "cannot start libvirt's event loop thread");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_read_from_the_live_domain() {
        let xml = include_str!("../fixtures/live-domain.xml");
        assert_eq!(
            Devices::of(xml),
            Devices {
                disks: vec!["vda".into(), "vdb".into(), "sdb".into()],
                interfaces: vec!["vnet3".into()],
            }
        );
        assert_eq!(Devices::of("<domain"), Devices::default());
    }
}
