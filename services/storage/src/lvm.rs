//! The `lvm` backend, as the original SC's LVM2 manager: each volume is a file in DATA/volumes
//! on a loop device, which is the one physical volume of a volume group of its own
//! (`euca-VOLUME`) holding one logical volume (`VOLUME`) of the volume's size. A snapshot
//! extends the group with a copy-on-write file of the same size (`VOLUME.SNAPSHOT`) for an
//! LVM snapshot, which is copied out and then removed with its file. Loop devices do not
//! survive a reboot: [`Lvm::restore`] attaches the files again and activates the groups.
//!
//! Everything runs through the `lvm` and `losetup` commands, which need root and a kernel
//! with device-mapper: [`preflight`] says what is missing before the SC starts.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use tracing::{info, warn};

use crate::files::{Folder, GB};

/// Room in a volume's file for the physical volume's label and metadata (1 MiB at the start
/// by default) before its extents (4 MiB each): the logical volume gets whole GB.
const HEADER: u64 = 8 << 20;
const VG_PREFIX: &str = "euca-";

#[derive(Debug, thiserror::Error)]
pub enum LvmError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: &'static str,
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("`{command}` printed {output:?}, not {expected}")]
    Unexpected {
        command: String,
        output: String,
        expected: &'static str,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LvmError {
    let path = path.to_owned();
    move |source| LvmError::Io { path, source }
}

/// What `--backend lvm` needs and this machine lacks, each with its fix; empty when all is
/// there. `proc_misc` is /proc/misc (device-mapper registers there), `path` is $PATH.
pub fn missing(proc_misc: &str, path: &str, root: bool, loop_control: bool) -> Vec<String> {
    let mut missing = Vec::new();
    let device_mapper = proc_misc
        .lines()
        .any(|line| line.split_whitespace().nth(1) == Some("device-mapper"));
    if !device_mapper {
        missing.push(
            "device-mapper in the kernel (absent from /proc/misc: load dm_mod, or use --backend file)"
                .to_owned(),
        );
    }
    for (program, package) in [("lvm", "lvm2"), ("losetup", "mount")] {
        let found = std::env::split_paths(path).any(|dir| dir.join(program).is_file());
        if !found {
            missing.push(format!("{program} (apt-get install {package})"));
        }
    }
    if !loop_control {
        missing.push("loop devices (/dev/loop-control)".to_owned());
    }
    if !root {
        missing.push("root (losetup and LVM change devices)".to_owned());
    }
    missing
}

/// [`missing`] on this machine.
pub fn preflight() -> Vec<String> {
    let proc_misc = std::fs::read_to_string("/proc/misc").unwrap_or_default();
    let path = std::env::var("PATH").unwrap_or_default();
    missing(
        &proc_misc,
        &path,
        rustix::process::geteuid().is_root(),
        Path::new("/dev/loop-control").exists(),
    )
}

/// One command line, built apart from running it so that it can be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    program: &'static str,
    args: Vec<OsString>,
}

impl Step {
    fn new(program: &'static str, args: &[&str]) -> Self {
        Self {
            program,
            args: args.iter().map(OsString::from).collect(),
        }
    }

    fn lvm(args: &[&str]) -> Self {
        Self::new("lvm", args)
    }

    fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The command line as a user would type it, for errors and logs.
    fn display(&self) -> String {
        let mut text = self.program.to_owned();
        for arg in &self.args {
            text.push(' ');
            text.push_str(&arg.to_string_lossy());
        }
        text
    }

    /// Runs the step; its standard output when it succeeds.
    fn run(&self) -> Result<String, LvmError> {
        let out = Command::new(self.program)
            .args(&self.args)
            // The SC's own descriptors are no concern of LVM's; with no udev (containers),
            // libdevmapper makes the /dev nodes itself.
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .env("DM_DISABLE_UDEV", "1")
            .output()
            .map_err(|source| LvmError::Spawn {
                program: self.program,
                source,
            })?;
        if !out.status.success() {
            return Err(LvmError::Failed {
                command: self.display(),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The volume group of a volume.
fn group(volume: &str) -> String {
    format!("{VG_PREFIX}{volume}")
}

/// The device of logical volume `lv` of group `vg` (a link LVM makes).
fn lv_device(vg: &str, lv: &str) -> PathBuf {
    Path::new("/dev").join(vg).join(lv)
}

/// The file of snapshot `snapshot`'s copy-on-write space (ids have no dots).
fn cow_name(volume: &str, snapshot: &str) -> String {
    format!("{volume}.{snapshot}")
}

fn attach_loop(file: &Path) -> Step {
    Step::new("losetup", &["--find", "--show"]).arg(file)
}

fn loops_of(file: &Path) -> Step {
    Step::new(
        "losetup",
        &["--noheadings", "--output", "NAME", "--associated"],
    )
    .arg(file)
}

fn detach_loop(device: &str) -> Step {
    Step::new("losetup", &["--detach", device])
}

fn create_pv(device: &str) -> Step {
    Step::lvm(&["pvcreate", "--yes", device])
}

fn remove_pv(device: &str) -> Step {
    Step::lvm(&["pvremove", "--yes", device])
}

fn create_vg(vg: &str, device: &str) -> Step {
    Step::lvm(&["vgcreate", "--yes", vg, device])
}

fn extend_vg(vg: &str, device: &str) -> Step {
    Step::lvm(&["vgextend", "--yes", vg, device])
}

fn reduce_vg(vg: &str, device: &str) -> Step {
    Step::lvm(&["vgreduce", "--yes", vg, device])
}

fn remove_vg(vg: &str) -> Step {
    Step::lvm(&["vgremove", "--yes", "--force", vg])
}

fn activate_vg(vg: &str) -> Step {
    Step::lvm(&["vgchange", "--activate", "y", vg])
}

fn create_lv(vg: &str, lv: &str, size_gb: u32) -> Step {
    Step::lvm(&[
        "lvcreate",
        "--yes",
        "--name",
        lv,
        "--size",
        &format!("{size_gb}G"),
        vg,
    ])
}

/// A snapshot of `vg/origin` in the whole of the physical volume `device` (and nowhere else).
fn create_snapshot_lv(vg: &str, origin: &str, snapshot: &str, device: &str) -> Step {
    Step::lvm(&[
        "lvcreate",
        "--yes",
        "--snapshot",
        "--name",
        snapshot,
        "--extents",
        "100%PVS",
        &format!("{vg}/{origin}"),
        device,
    ])
}

fn remove_lv(vg: &str, lv: &str) -> Step {
    Step::lvm(&["lvremove", "--yes", "--force", &format!("{vg}/{lv}")])
}

fn list_vgs() -> Step {
    Step::lvm(&["vgs", "--noheadings", "--options", "vg_name"])
}

fn list_lvs(vg: &str) -> Step {
    Step::lvm(&[
        "lvs",
        "--noheadings",
        "--separator",
        "|",
        "--options",
        "vg_name,lv_name,origin",
        vg,
    ])
}

/// A logical volume as `lvs` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalVolume {
    pub vg: String,
    pub name: String,
    /// The volume a snapshot is of.
    pub origin: Option<String>,
}

/// `lvs`'s report ([`list_lvs`]): one `VG|LV|ORIGIN` a line.
fn parse_lvs(output: &str) -> Result<Vec<LogicalVolume>, String> {
    output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            let [vg, name, origin] = fields[..] else {
                return Err(line.to_owned());
            };
            Ok(LogicalVolume {
                vg: vg.to_owned(),
                name: name.to_owned(),
                origin: Some(origin).filter(|o| !o.is_empty()).map(str::to_owned),
            })
        })
        .collect()
}

/// `vgs`'s names ([`list_vgs`]), or losetup's devices ([`loops_of`]): one a line.
fn parse_names(output: &str) -> HashSet<String> {
    output
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The device `losetup --find --show` attached.
fn parse_loop(command: &Step, output: &str) -> Result<String, LvmError> {
    let device = output.trim();
    if device.starts_with("/dev/loop") && !device.contains(char::is_whitespace) {
        Ok(device.to_owned())
    } else {
        Err(LvmError::Unexpected {
            command: command.display(),
            output: output.to_owned(),
            expected: "a loop device",
        })
    }
}

/// Volumes as logical volumes over loop files in `files`.
#[derive(Debug)]
pub struct Lvm {
    files: Folder,
}

impl Lvm {
    pub fn new(files: Folder) -> Self {
        Self { files }
    }

    /// The block device of `volume`.
    pub fn device(&self, volume: &str) -> PathBuf {
        lv_device(&group(volume), volume)
    }

    fn attach(&self, file: &Path) -> Result<String, LvmError> {
        let step = attach_loop(file);
        parse_loop(&step, &step.run()?)
    }

    fn loops(&self, file: &Path) -> Result<HashSet<String>, LvmError> {
        Ok(parse_names(&loops_of(file).run()?))
    }

    /// A new volume of `size_gb` GB: its file, loop device, group and logical volume; what
    /// was made is undone when a step fails. Fails with `AlreadyExists` as an I/O error when
    /// the volume's file exists.
    pub fn create(&self, volume: &str, size_gb: u32) -> Result<PathBuf, LvmError> {
        let file = self
            .files
            .create_len(volume, u64::from(size_gb) * GB + HEADER)
            .map_err(io_error(&self.files.path(volume)))?;
        let made = self.attach(&file).and_then(|device| {
            let vg = group(volume);
            [
                create_pv(&device),
                create_vg(&vg, &device),
                create_lv(&vg, volume, size_gb),
            ]
            .iter()
            .try_for_each(|step| step.run().map(drop))
        });
        if let Err(e) = made {
            if let Err(undo) = self.remove(volume) {
                warn!(volume, error = %undo, "cannot undo a volume half made");
            }
            return Err(e);
        }
        info!(volume, size_gb, device = %self.device(volume).display(), "logical volume created");
        Ok(self.device(volume))
    }

    /// Removes what there is of `volume`: its group (with its logical volumes), physical
    /// volume, loop device and file.
    pub fn remove(&self, volume: &str) -> Result<(), LvmError> {
        let vg = group(volume);
        if parse_names(&list_vgs().run()?).contains(&vg) {
            remove_vg(&vg).run()?;
        }
        self.release_file(volume)
    }

    /// Detaches the loop devices of the file `name` (wiping their physical volume labels) and
    /// removes it.
    fn release_file(&self, name: &str) -> Result<(), LvmError> {
        let file = self.files.path(name);
        if file.exists() {
            for device in self.loops(&file)? {
                if let Err(e) = remove_pv(&device).run() {
                    // A loop that never became a physical volume.
                    info!(device, error = %e, "no physical volume to remove");
                }
                detach_loop(&device).run()?;
            }
        }
        self.files.remove(name).map_err(io_error(&file))
    }

    /// Runs `copy` on a point-in-time snapshot of `volume` (an LVM snapshot in a file of its
    /// own), then removes the snapshot whatever `copy` answered.
    pub fn with_snapshot<T, E: From<LvmError>>(
        &self,
        volume: &str,
        snapshot: &str,
        size_gb: u32,
        copy: impl FnOnce(&Path) -> Result<T, E>,
    ) -> Result<T, E> {
        let vg = group(volume);
        let name = cow_name(volume, snapshot);
        let made = (|| {
            let file = self
                .files
                .create_len(&name, u64::from(size_gb) * GB + HEADER)
                .map_err(io_error(&self.files.path(&name)))?;
            let device = self.attach(&file)?;
            create_pv(&device).run()?;
            extend_vg(&vg, &device).run()?;
            create_snapshot_lv(&vg, volume, snapshot, &device).run()?;
            Ok::<_, LvmError>(())
        })();
        let copied = match made {
            Ok(()) => copy(&lv_device(&vg, snapshot)),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = self.drop_snapshot(volume, snapshot) {
            warn!(volume, snapshot, error = %e, "cannot remove the LVM snapshot");
        }
        copied
    }

    /// Removes snapshot `snapshot` of `volume` and its file, as far as they exist.
    fn drop_snapshot(&self, volume: &str, snapshot: &str) -> Result<(), LvmError> {
        let vg = group(volume);
        let name = cow_name(volume, snapshot);
        let file = self.files.path(&name);
        if parse_names(&list_vgs().run()?).contains(&vg) {
            let listed = list_lvs(&vg).run()?;
            let lvs = parse_lvs(&listed).map_err(|line| LvmError::Unexpected {
                command: list_lvs(&vg).display(),
                output: line,
                expected: "VG|LV|ORIGIN",
            })?;
            let ours = |lv: &LogicalVolume| {
                lv.vg == vg && lv.name == snapshot && lv.origin.as_deref() == Some(volume)
            };
            if lvs.iter().any(ours) {
                remove_lv(&vg, snapshot).run()?;
            }
            if file.exists() {
                for device in self.loops(&file)? {
                    if let Err(e) = reduce_vg(&vg, &device).run() {
                        info!(device, error = %e, "not in the volume group");
                    }
                }
            }
        }
        self.release_file(&name)
    }

    /// After a restart or a reboot: attaches every volume's file that has no loop device,
    /// removes the snapshots a stopped SC left, and activates the volumes' groups.
    pub fn restore(&self) -> Result<(), LvmError> {
        let dir = self.files.path("");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_error(&dir))? {
            let entry = entry.map_err(io_error(&dir))?;
            if let Some(name) = entry.file_name().to_str() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        for name in &names {
            let file = self.files.path(name);
            if self.loops(&file)?.is_empty() {
                let device = self.attach(&file)?;
                info!(file = name, device, "loop device attached again");
            }
        }
        // A group is whole again only once all its files are attached.
        let (snapshots, volumes): (Vec<&String>, Vec<&String>) =
            names.iter().partition(|name| name.contains('.'));
        for volume in &volumes {
            if let Err(e) = activate_vg(&group(volume)).run() {
                warn!(volume = volume.as_str(), error = %e, "cannot activate the volume's group");
            }
        }
        for name in snapshots {
            if let Some((volume, snapshot)) = name.split_once('.') {
                info!(volume, snapshot, "removing a snapshot left by a stop");
                self.drop_snapshot(volume, snapshot)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn line(step: &Step) -> String {
        step.display()
    }

    #[test]
    fn the_steps_of_a_volume_are_the_original_managers() {
        assert_eq!(
            line(&attach_loop(Path::new("/d/volumes/vol-1"))),
            "losetup --find --show /d/volumes/vol-1"
        );
        assert_eq!(
            line(&create_pv("/dev/loop3")),
            "lvm pvcreate --yes /dev/loop3"
        );
        assert_eq!(
            line(&create_vg(&group("vol-1"), "/dev/loop3")),
            "lvm vgcreate --yes euca-vol-1 /dev/loop3"
        );
        assert_eq!(
            line(&create_lv("euca-vol-1", "vol-1", 2)),
            "lvm lvcreate --yes --name vol-1 --size 2G euca-vol-1"
        );
        assert_eq!(
            line(&create_snapshot_lv(
                "euca-vol-1",
                "vol-1",
                "snap-1",
                "/dev/loop4"
            )),
            "lvm lvcreate --yes --snapshot --name snap-1 --extents 100%PVS euca-vol-1/vol-1 /dev/loop4"
        );
        assert_eq!(
            line(&remove_lv("euca-vol-1", "snap-1")),
            "lvm lvremove --yes --force euca-vol-1/snap-1"
        );
        assert_eq!(
            line(&reduce_vg("euca-vol-1", "/dev/loop4")),
            "lvm vgreduce --yes euca-vol-1 /dev/loop4"
        );
        assert_eq!(
            line(&remove_vg("euca-vol-1")),
            "lvm vgremove --yes --force euca-vol-1"
        );
        assert_eq!(
            line(&detach_loop("/dev/loop3")),
            "losetup --detach /dev/loop3"
        );
        assert_eq!(cow_name("vol-1", "snap-1"), "vol-1.snap-1");
        let lvm = Lvm::new(Folder::open(std::env::temp_dir().join("unused")).unwrap());
        assert_eq!(lvm.device("vol-1"), Path::new("/dev/euca-vol-1/vol-1"));
    }

    #[test]
    fn lvs_reports_parse_into_volumes_and_snapshots() {
        let lvs = parse_lvs(include_str!("../fixtures/lvs.txt")).unwrap();
        assert_eq!(
            lvs,
            [
                LogicalVolume {
                    vg: "euca-vol-1".into(),
                    name: "snap-1".into(),
                    origin: Some("vol-1".into()),
                },
                LogicalVolume {
                    vg: "euca-vol-1".into(),
                    name: "vol-1".into(),
                    origin: None,
                },
            ]
        );
        assert_eq!(
            parse_lvs("euca-vol-1|vol-1|1G|\n"),
            Err("euca-vol-1|vol-1|1G|".into())
        );
        assert_eq!(
            parse_lvs("euca-vol-1|vol-1\n"),
            Err("euca-vol-1|vol-1".into())
        );
        assert_eq!(parse_lvs("  \n"), Ok(vec![]));
    }

    #[test]
    fn vgs_and_losetup_lists_parse_into_names() {
        let vgs = parse_names(include_str!("../fixtures/vgs.txt"));
        assert_eq!(vgs.len(), 2);
        assert!(vgs.contains("euca-vol-1") && vgs.contains("euca-vol-2"));
        let loops = parse_names(include_str!("../fixtures/losetup-associated.txt"));
        assert_eq!(loops, HashSet::from(["/dev/loop0".to_owned()]));
        let step = attach_loop(Path::new("f"));
        assert_eq!(parse_loop(&step, "/dev/loop7\n").unwrap(), "/dev/loop7");
        assert!(matches!(
            parse_loop(&step, "losetup: f: failed to set up loop device\n"),
            Err(LvmError::Unexpected { .. })
        ));
    }

    #[test]
    fn the_preflight_names_each_missing_piece_with_its_fix() {
        let with_dm = include_str!("../fixtures/proc-misc-dm.txt");
        let without_dm = include_str!("../fixtures/proc-misc.txt");
        let tools = tempfile::tempdir().unwrap();
        for program in ["lvm", "losetup"] {
            std::fs::write(tools.path().join(program), "").unwrap();
        }
        let path = format!("/nonexistent:{}", tools.path().display());
        assert!(missing(with_dm, &path, true, true).is_empty());

        let lacking = missing(without_dm, "/nonexistent", false, false);
        assert_eq!(lacking.len(), 5, "{lacking:?}");
        assert!(lacking[0].starts_with("device-mapper"), "{lacking:?}");
        assert!(lacking[1].contains("apt-get install lvm2"), "{lacking:?}");
        assert!(lacking[2].starts_with("losetup"), "{lacking:?}");
        assert!(lacking[3].contains("/dev/loop-control"), "{lacking:?}");
        assert!(lacking[4].starts_with("root"), "{lacking:?}");
    }

    /// Whether the LVM tools can run here (root, lvm2, losetup); device-mapper may lack.
    fn tools_here() -> bool {
        let misc = "236 device-mapper";
        let path = std::env::var("PATH").unwrap_or_default();
        let root = rustix::process::geteuid().is_root();
        let lacking = missing(misc, &path, root, Path::new("/dev/loop-control").exists());
        if !lacking.is_empty() {
            println!("skipped: {}", lacking.join("; "));
        }
        lacking.is_empty()
    }

    /// Nothing of `volume` is left: no file, no loop device on it, no volume group.
    fn assert_gone(lvm: &Lvm, volume: &str) {
        let file = lvm.files.path(volume);
        assert!(!file.exists(), "{}", file.display());
        let loops = Step::new(
            "losetup",
            &["--list", "--noheadings", "--output", "BACK-FILE"],
        );
        let backing = loops.run().unwrap();
        assert!(!backing.contains(&*file.to_string_lossy()), "{backing}");
        let groups = parse_names(&list_vgs().run().unwrap());
        assert!(!groups.contains(&group(volume)), "{groups:?}");
    }

    /// Where device-mapper lacks (lvcreate fails after the loop device, physical volume and
    /// group are made) the half-made volume is undone; where it is, the volume is made and
    /// removed. Either way nothing is left.
    #[test]
    fn a_volume_is_made_and_removed_or_undone_leaving_nothing() {
        if !tools_here() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let lvm = Lvm::new(Folder::open(dir.path().join("volumes")).unwrap());
        let volume = format!("vol-t{}", std::process::id());
        match lvm.create(&volume, 1) {
            Ok(device) => {
                assert_eq!(device, lvm.device(&volume));
                assert!(device.exists());
                lvm.remove(&volume).unwrap();
            }
            Err(e) => {
                println!("without device-mapper: {e}");
                assert!(e.to_string().contains("lvcreate"), "{e}");
            }
        }
        assert_gone(&lvm, &volume);
    }

    /// After a reboot the volumes' files have no loop devices: a start attaches them again,
    /// and removes the copy-on-write file of a snapshot a stop left.
    #[test]
    fn a_start_attaches_the_volumes_files_again_and_drops_left_snapshots() {
        if !tools_here() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let lvm = Lvm::new(Folder::open(dir.path().join("volumes")).unwrap());
        let volume = format!("vol-r{}", std::process::id());
        let file = lvm.files.create_len(&volume, 16 << 20).unwrap();
        let cow = cow_name(&volume, "snap-1");
        lvm.files.create_len(&cow, 16 << 20).unwrap();
        lvm.restore().unwrap();
        let attached = lvm.loops(&file).unwrap();
        assert_eq!(attached.len(), 1, "{attached:?}");
        assert!(
            !lvm.files.path(&cow).exists(),
            "the left snapshot is removed"
        );
        lvm.restore().unwrap();
        assert_eq!(lvm.loops(&file).unwrap(), attached, "attached once");
        lvm.remove(&volume).unwrap();
        assert_gone(&lvm, &volume);
    }

    /// A snapshot's copy-on-write file joins the volume's group only for the copy: after it
    /// (or after lvcreate fails, without device-mapper) it has left the group and is gone.
    #[test]
    fn a_snapshot_lives_as_long_as_its_copy() {
        if !tools_here() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let lvm = Lvm::new(Folder::open(dir.path().join("volumes")).unwrap());
        let volume = format!("vol-s{}", std::process::id());
        let made = lvm.create(&volume, 1).is_ok();
        if !made {
            // The group without its logical volume, which is as far as this kernel goes.
            let file = lvm.files.create_len(&volume, GB + HEADER).unwrap();
            let device = lvm.attach(&file).unwrap();
            create_pv(&device).run().unwrap();
            create_vg(&group(&volume), &device).run().unwrap();
        }
        let mut copied = None;
        let result = lvm.with_snapshot(&volume, "snap-1", 1, |path| {
            copied = Some(path.to_owned());
            Ok::<_, LvmError>(std::fs::metadata(path).is_ok())
        });
        if made {
            assert!(result.unwrap(), "the snapshot's device exists while copied");
            assert_eq!(copied, Some(lv_device(&group(&volume), "snap-1")));
        } else {
            let error = result.unwrap_err().to_string();
            assert!(error.contains("lvcreate --yes --snapshot"), "{error}");
            assert_eq!(copied, None, "no copy without a snapshot");
        }
        let cow = lvm.files.path(&cow_name(&volume, "snap-1"));
        assert!(!cow.exists(), "{}", cow.display());
        let pvs = Step::lvm(&["pvs", "--noheadings", "--options", "vg_name"])
            .run()
            .unwrap();
        let members = pvs.lines().filter(|l| l.trim() == group(&volume)).count();
        assert_eq!(members, 1, "the volume's own physical volume only: {pvs}");
        lvm.remove(&volume).unwrap();
        assert_gone(&lvm, &volume);
    }
}
