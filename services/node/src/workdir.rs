//! An instance's work directory: its kernel, ramdisk and root image (linked from the image
//! cache), a copy-on-write root disk over the image, ephemeral and swap disks carved from
//! the VM type's disk, the config disk, and the console log.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;
use tracing::{debug, info};

use crate::images::Placement;
use crate::instances::InstanceRecord;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
/// Below this an ephemeral disk is not worth a file system.
const MIN_EPHEMERAL: u64 = 16 * MIB;

/// Why the instance's disks could not be made.
#[derive(Debug, thiserror::Error)]
pub enum WorkDirError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{tool} failed on {path}: {message}")]
    Tool {
        tool: String,
        path: PathBuf,
        message: String,
    },
}

impl WorkDirError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// The external programs used to make disks, found on the PATH at startup.
#[derive(Debug, Clone, Default)]
pub struct Tools {
    /// Makes copy-on-write overlays; without it each instance gets a full copy of its image.
    pub qemu_img: Option<PathBuf>,
    pub mkswap: Option<PathBuf>,
    pub mkfs_ext3: Option<PathBuf>,
}

impl Tools {
    pub fn find() -> Self {
        let tools = Self {
            qemu_img: find_program("qemu-img"),
            mkswap: find_program("mkswap"),
            mkfs_ext3: find_program("mkfs.ext3"),
        };
        for (name, found) in [
            ("qemu-img (root disks will be full copies)", &tools.qemu_img),
            ("mkswap (swap disks left unformatted)", &tools.mkswap),
            (
                "mkfs.ext3 (ephemeral disks left unformatted)",
                &tools.mkfs_ext3,
            ),
        ] {
            if found.is_none() {
                info!("not found on PATH: {name}");
            }
        }
        tools
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// What instances' disks are carved from.
#[derive(Debug, Clone)]
pub enum Disks {
    /// The host's disk: a copy-on-write root, swap and an ephemeral disk, made with these
    /// tools.
    Host(Tools),
    /// Nothing: the node runs the test driver on a declared capacity, whose disk is not the
    /// host's. An instance's directory holds its images (linked), its config disk, its domain
    /// XML and an empty console log, a few kilobytes, so thousands fit.
    Declared,
}

impl Disks {
    /// How the root image reaches the directory: linked when nothing writes it (it backs a
    /// copy-on-write overlay, or no guest runs), else copied.
    pub fn root_placement(&self) -> Placement {
        match self {
            Self::Host(tools) if tools.qemu_img.is_none() => Placement::Private,
            _ => Placement::Shared,
        }
    }
}

/// The files a domain is made of, as they stand in a work directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub kernel: PathBuf,
    pub ramdisk: Option<PathBuf>,
    pub root: PathBuf,
    pub root_format: &'static str,
    pub ephemeral: Option<PathBuf>,
    pub swap: Option<PathBuf>,
    pub config: PathBuf,
    pub console: PathBuf,
}

/// The work directory of one instance.
#[derive(Debug, Clone)]
pub struct WorkDir {
    dir: PathBuf,
}

impl WorkDir {
    pub fn new(base: &Path, instance_id: &str) -> Self {
        Self {
            dir: base.join(instance_id),
        }
    }

    pub fn kernel(&self) -> PathBuf {
        self.dir.join("kernel")
    }

    pub fn ramdisk(&self) -> PathBuf {
        self.dir.join("ramdisk")
    }

    /// The root file system image as fetched.
    pub fn image(&self) -> PathBuf {
        self.dir.join("image")
    }

    /// The copy-on-write overlay over [`WorkDir::image`], when qemu-img made one.
    fn overlay(&self) -> PathBuf {
        self.dir.join("disk.qcow2")
    }

    fn ephemeral(&self) -> PathBuf {
        self.dir.join("ephemeral")
    }

    fn swap(&self) -> PathBuf {
        self.dir.join("swap")
    }

    fn config(&self) -> PathBuf {
        self.dir.join("config.tar")
    }

    pub fn console(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    /// Where the domain XML last used is kept, for whoever debugs the instance.
    pub fn libvirt_xml(&self) -> PathBuf {
        self.dir.join("libvirt.xml")
    }

    /// Starts the directory afresh: whatever an interrupted earlier boot left goes.
    pub async fn create_empty(&self) -> Result<(), WorkDirError> {
        self.remove().await?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(WorkDirError::io("cannot create", &self.dir))
    }

    /// Removes the directory and everything in it; a missing directory is fine.
    pub async fn remove(&self) -> Result<(), WorkDirError> {
        match tokio::fs::remove_dir_all(&self.dir).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(WorkDirError::io("cannot remove", &self.dir)(e))
            }
            _ => Ok(()),
        }
    }

    /// What the directory holds now.
    pub async fn layout(&self) -> Layout {
        async fn present(path: PathBuf) -> Option<PathBuf> {
            tokio::fs::try_exists(&path)
                .await
                .is_ok_and(|there| there)
                .then_some(path)
        }
        let overlay = present(self.overlay()).await;
        Layout {
            kernel: self.kernel(),
            ramdisk: present(self.ramdisk()).await,
            root_format: if overlay.is_some() { "qcow2" } else { "raw" },
            root: overlay.unwrap_or_else(|| self.image()),
            ephemeral: present(self.ephemeral()).await,
            swap: present(self.swap()).await,
            config: self.config(),
            console: self.console(),
        }
    }

    /// On the host's disk, makes the root disk (an overlay when qemu-img is there: the image
    /// itself is then a link into the shared cache, never written), the swap and ephemeral
    /// disks from what is left of `disk_gb` after `used` bytes of images; then, in every
    /// case, the config disk and an empty console log.
    pub async fn make_disks(
        &self,
        disks: &Disks,
        record: &InstanceRecord,
        used: u64,
        swap_mb: u64,
    ) -> Result<(), WorkDirError> {
        if let Disks::Host(tools) = disks {
            self.carve(tools, record, used, swap_mb).await?;
        }
        let config = crate::config_drive::archive(record);
        tokio::fs::write(self.config(), config)
            .await
            .map_err(WorkDirError::io("cannot write", &self.config()))?;
        tokio::fs::write(self.console(), b"")
            .await
            .map_err(WorkDirError::io("cannot create", &self.console()))
    }

    /// The root overlay, swap and ephemeral disks, on the host's disk.
    async fn carve(
        &self,
        tools: &Tools,
        record: &InstanceRecord,
        used: u64,
        swap_mb: u64,
    ) -> Result<(), WorkDirError> {
        if let Some(qemu_img) = &tools.qemu_img {
            // The backing file is named relative to the overlay, so the directory may move.
            run(
                qemu_img,
                &["create", "-q", "-f", "qcow2", "-F", "raw", "-b", "image"],
                &self.overlay(),
                &self.dir,
            )
            .await?;
        }
        let plan = DiskPlan::new(record.size.disk_gb, used, swap_mb);
        if plan.swap > 0 {
            sparse_file(&self.swap(), plan.swap).await?;
            if let Some(mkswap) = &tools.mkswap {
                run(mkswap, &[], &self.swap(), &self.dir).await?;
            }
        }
        if plan.ephemeral > 0 {
            sparse_file(&self.ephemeral(), plan.ephemeral).await?;
            if let Some(mkfs) = &tools.mkfs_ext3 {
                run(mkfs, &["-F", "-q"], &self.ephemeral(), &self.dir).await?;
            }
        }
        debug!(dir = %self.dir.display(), swap = plan.swap, ephemeral = plan.ephemeral, "disks ready");
        Ok(())
    }
}

/// How the VM type's disk is shared out once the images are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DiskPlan {
    swap: u64,
    ephemeral: u64,
}

impl DiskPlan {
    /// Swap is left out when it does not fit beside the images (as the original did); the
    /// ephemeral disk takes the rest, in whole MiB.
    fn new(disk_gb: u64, used: u64, swap_mb: u64) -> Self {
        let left = disk_gb.saturating_mul(GIB).saturating_sub(used);
        let swap = swap_mb.saturating_mul(MIB);
        let swap = if swap <= left { swap } else { 0 };
        let ephemeral = (left - swap) / MIB * MIB;
        Self {
            swap,
            ephemeral: if ephemeral >= MIN_EPHEMERAL {
                ephemeral
            } else {
                0
            },
        }
    }
}

async fn sparse_file(path: &Path, size: u64) -> Result<(), WorkDirError> {
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await
        .map_err(WorkDirError::io("cannot create", path))?;
    file.set_len(size)
        .await
        .map_err(WorkDirError::io("cannot size", path))
}

/// Runs `program args target` in `dir`, failing with its stderr.
async fn run(program: &Path, args: &[&str], target: &Path, dir: &Path) -> Result<(), WorkDirError> {
    let output = Command::new(program)
        .args(args)
        .arg(target)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(WorkDirError::io("cannot run a tool on", target))?;
    if output.status.success() {
        return Ok(());
    }
    Err(WorkDirError::Tool {
        tool: program.display().to_string(),
        path: target.to_owned(),
        message: format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::instances::testing::record;
    use std::fs;

    #[test]
    fn swap_is_dropped_when_it_does_not_fit() {
        assert_eq!(
            DiskPlan::new(1, 100 * MIB, 512),
            DiskPlan {
                swap: 512 * MIB,
                ephemeral: 412 * MIB
            }
        );
        assert_eq!(
            DiskPlan::new(1, 600 * MIB, 512),
            DiskPlan {
                swap: 0,
                ephemeral: 424 * MIB
            }
        );
        assert_eq!(
            DiskPlan::new(1, GIB - MIB, 512),
            DiskPlan {
                swap: 0,
                ephemeral: 0
            }
        );
        assert_eq!(
            DiskPlan::new(0, 5, 512),
            DiskPlan {
                swap: 0,
                ephemeral: 0
            }
        );
    }

    #[tokio::test]
    async fn disks_are_made_as_the_tools_allow() {
        let base = tempfile::tempdir().unwrap();
        let work = WorkDir::new(base.path(), "i-1");
        work.create_empty().await.unwrap();
        fs::write(work.image(), vec![0u8; 1 << 20]).unwrap();
        fs::write(work.kernel(), b"k").unwrap();
        let tools = Tools::find();
        work.make_disks(&Disks::Host(tools.clone()), &record("i-1"), 1 << 20, 512)
            .await
            .unwrap();

        let layout = work.layout().await;
        assert_eq!(layout.ramdisk, None);
        assert_eq!(
            layout.swap.as_ref().map(|p| fs::metadata(p).unwrap().len()),
            Some(512 * MIB)
        );
        let ephemeral = fs::metadata(layout.ephemeral.as_ref().unwrap())
            .unwrap()
            .len();
        assert_eq!(ephemeral, 2 * GIB - 512 * MIB - MIB);
        if tools.qemu_img.is_some() {
            assert_eq!(layout.root_format, "qcow2");
            assert_eq!(layout.root, work.overlay());
        } else {
            assert_eq!(layout.root, work.image());
        }
        assert!(fs::read(&layout.config).unwrap().len() >= 1024);
        assert_eq!(fs::read(&layout.console).unwrap(), b"");

        // A second boot of the same instance starts from nothing.
        work.create_empty().await.unwrap();
        assert_eq!(fs::read_dir(&work.dir).unwrap().count(), 0);
        work.remove().await.unwrap();
        work.remove().await.unwrap();
        assert!(!&work.dir.exists());
    }

    /// Guards the declared capacity of a benchmark node: an instance costs a few kilobytes
    /// of files, with no disk carved from the host's.
    #[tokio::test]
    async fn a_declared_node_makes_no_disks() {
        let base = tempfile::tempdir().unwrap();
        let work = WorkDir::new(base.path(), "i-1");
        work.create_empty().await.unwrap();
        fs::write(work.image(), b"stand-in").unwrap();
        work.make_disks(&Disks::Declared, &record("i-1"), 8, 512)
            .await
            .unwrap();
        let layout = work.layout().await;
        assert_eq!((&layout.swap, &layout.ephemeral), (&None, &None));
        assert_eq!((layout.root, layout.root_format), (work.image(), "raw"));
        let bytes: u64 = fs::read_dir(&work.dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert!(bytes < 16 << 10, "{bytes} bytes");
        assert_eq!(Disks::Declared.root_placement(), Placement::Shared);
    }
}
