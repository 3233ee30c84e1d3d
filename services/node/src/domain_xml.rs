//! libvirt domain XML for an instance, generated from its record and its work directory
//! (the original filled a template from `gen_kvm_libvirt_xml` / `gen_libvirt_xml`). Every
//! value goes through an XML writer, so nothing in a request can break out of its attribute.

use std::path::Path;

use crate::config::HypervisorKind;
use crate::libvirt_xml::Xml;
use crate::volumes::VolumeDevice;
use crate::workdir::Layout;

/// The kernel command line of KVM and test guests: root on the first virtio disk, console
/// on the serial port that is logged to a file.
const KVM_CMDLINE: &str = "root=/dev/vda console=ttyS0";
/// Xen guests are paravirtual, with their disks named as the original named them.
const XEN_CMDLINE: &str = "root=/dev/sda1 ro";

/// What a domain is made of.
#[derive(Debug)]
pub struct DomainSpec<'a> {
    pub name: &'a str,
    pub hypervisor: HypervisorKind,
    /// For kvm: `kvm`, or `qemu` for software emulation.
    pub kvm_domain_type: &'a str,
    pub memory_mb: u64,
    pub cores: u64,
    pub layout: &'a Layout,
    pub mac: &'a str,
    /// `None`: QEMU user-mode networking instead of a bridge.
    pub bridge: Option<&'a str>,
    pub volumes: &'a [VolumeDevice],
}

/// The instance's own disks, in the order they appear to the guest.
struct OwnDisk<'a> {
    path: &'a Path,
    format: &'a str,
    readonly: bool,
}

impl DomainSpec<'_> {
    pub fn to_xml(&self) -> String {
        let mut x = Xml::new();
        let (domain_type, os_type) = match self.hypervisor {
            HypervisorKind::Test => ("test", "hvm"),
            HypervisorKind::Kvm => (self.kvm_domain_type, "hvm"),
            HypervisorKind::Xen => ("xen", "linux"),
        };
        x.open("domain", &[("type", domain_type)]);
        x.leaf("name", self.name);
        x.open("memory", &[("unit", "MiB")]);
        x.text(&self.memory_mb.to_string());
        x.close();
        x.leaf("vcpu", &self.cores.to_string());

        x.open("os", &[]);
        x.leaf("type", os_type);
        x.leaf("kernel", &path_text(&self.layout.kernel));
        if let Some(ramdisk) = &self.layout.ramdisk {
            x.leaf("initrd", &path_text(ramdisk));
        }
        let cmdline = if self.hypervisor == HypervisorKind::Xen {
            XEN_CMDLINE
        } else {
            KVM_CMDLINE
        };
        x.leaf("cmdline", cmdline);
        x.close();

        if self.hypervisor != HypervisorKind::Xen {
            x.open("features", &[]);
            x.empty("acpi", &[]);
            x.empty("apic", &[]);
            x.close();
        }
        x.leaf("on_poweroff", "destroy");
        x.leaf("on_reboot", "restart");
        x.leaf("on_crash", "destroy");

        x.open("devices", &[]);
        self.write_own_disks(&mut x);
        if self.hypervisor != HypervisorKind::Xen {
            // Volumes named sdX are hot-plugged onto this controller.
            x.empty("controller", &[("type", "scsi"), ("model", "virtio-scsi")]);
        }
        for volume in self.volumes {
            volume.write(&mut x);
        }
        self.write_interface(&mut x);
        self.write_console(&mut x);
        if self.hypervisor == HypervisorKind::Kvm {
            x.empty("memballoon", &[("model", "none")]);
        }
        x.close();
        x.finish()
    }

    fn write_own_disks(&self, x: &mut Xml) {
        let l = self.layout;
        let disks = [
            Some(OwnDisk {
                path: &l.root,
                format: l.root_format,
                readonly: false,
            }),
            l.ephemeral.as_deref().map(|path| OwnDisk {
                path,
                format: "raw",
                readonly: false,
            }),
            l.swap.as_deref().map(|path| OwnDisk {
                path,
                format: "raw",
                readonly: false,
            }),
            Some(OwnDisk {
                path: &l.config,
                format: "raw",
                readonly: true,
            }),
        ];
        for (index, disk) in disks.into_iter().flatten().enumerate() {
            x.open("disk", &[("type", "file"), ("device", "disk")]);
            if self.hypervisor == HypervisorKind::Xen {
                x.empty("source", &[("file", &path_text(disk.path))]);
                x.empty("target", &[("dev", &format!("sda{}", index + 1))]);
            } else {
                x.empty("driver", &[("name", "qemu"), ("type", disk.format)]);
                x.empty("source", &[("file", &path_text(disk.path))]);
                x.empty(
                    "target",
                    &[("dev", &own_disk_name(index)), ("bus", "virtio")],
                );
            }
            if disk.readonly {
                x.empty("readonly", &[]);
            }
            x.close();
        }
    }

    fn write_interface(&self, x: &mut Xml) {
        match self.bridge {
            Some(bridge) => {
                x.open("interface", &[("type", "bridge")]);
                x.empty("source", &[("bridge", bridge)]);
            }
            None => x.open("interface", &[("type", "user")]),
        }
        x.empty("mac", &[("address", self.mac)]);
        if self.hypervisor == HypervisorKind::Xen {
            x.empty("script", &[("path", "/etc/xen/scripts/vif-bridge")]);
        } else {
            x.empty("model", &[("type", "e1000")]);
        }
        x.close();
    }

    fn write_console(&self, x: &mut Xml) {
        if self.hypervisor == HypervisorKind::Xen {
            // A paravirtual console has no file backend; the original read it with `xm console`.
            x.open("console", &[("type", "pty")]);
            x.empty("target", &[("type", "xen"), ("port", "0")]);
        } else {
            // Appended to, so that a reboot keeps what the guest printed before.
            x.open("serial", &[("type", "file")]);
            x.empty(
                "source",
                &[("path", &path_text(&self.layout.console)), ("append", "on")],
            );
            x.empty("target", &[("port", "0")]);
        }
        x.close();
    }
}

/// The guest name of the instance's own disk at `index`: vda, vdb, ...
fn own_disk_name(index: usize) -> String {
    let letter = u8::try_from(index).map_or('z', |i| char::from(b'a' + i.min(25)));
    format!("vd{letter}")
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
