//! Volume and snapshot files: sparse files of whole GB (the `file` backend), and the copy
//! between them that keeps holes as holes and reports its progress.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rustix::fs::SeekFrom;
use rustix::io::Errno;

pub const GB: u64 = 1 << 30;
/// The copy's step: progress is reported after each.
const CHUNK: u64 = 64 << 20;
/// The buffer of a copy the kernel cannot make itself: memory stays at most this.
const BUFFER: usize = 1 << 20;

/// A folder of files named by volume or snapshot id.
#[derive(Debug, Clone)]
pub struct Folder {
    dir: PathBuf,
}

impl Folder {
    pub fn open(dir: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The file of `id`; ids are checked to be one safe path segment before they get here.
    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// A new sparse file of `size_gb` GB; fails if it exists.
    pub fn create(&self, id: &str, size_gb: u32) -> io::Result<PathBuf> {
        self.create_len(id, u64::from(size_gb) * GB)
    }

    /// A new sparse file of `len` bytes; fails if it exists.
    pub fn create_len(&self, id: &str, len: u64) -> io::Result<PathBuf> {
        let path = self.path(id);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.set_len(len)?;
        Ok(path)
    }

    pub fn remove(&self, id: &str) -> io::Result<()> {
        match std::fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Copies `from` over `to` (which keeps its length if longer), the data only: holes are
/// skipped (SEEK_DATA/SEEK_HOLE) and stay holes, data goes by `copy_file_range` (in the
/// kernel, as `cp` copies). `progress` hears each new whole percent. Either may be a block
/// device (a logical volume), which is written over in place: its holes are what was there.
pub fn copy_sparse(from: &Path, to: &Path, mut progress: impl FnMut(u8)) -> io::Result<u64> {
    let source = File::open(from)?;
    // A block device's length is where it ends, not in its metadata.
    let total = rustix::fs::seek(&source, SeekFrom::End(0))?;
    // Truncated below if a file; a device is written over in place.
    let target = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(to)?;
    let meta = target.metadata()?;
    if meta.is_file() {
        let keep = meta.len();
        target.set_len(0)?;
        target.set_len(keep.max(total))?;
    }
    let mut reported = 0u8;
    let mut report = |done: u64| {
        let percent = (done * 100 / total.max(1)).min(100) as u8;
        if percent > reported {
            reported = percent;
            progress(percent);
        }
    };
    let mut offset = 0;
    while offset < total {
        let start = match rustix::fs::seek(&source, SeekFrom::Data(offset)) {
            Ok(start) => start,
            // Only a hole is left.
            Err(Errno::NXIO) => break,
            // A device does not tell its holes: all of it is data.
            Err(Errno::INVAL) => offset,
            Err(e) => return Err(e.into()),
        };
        let end = match rustix::fs::seek(&source, SeekFrom::Hole(start)) {
            Ok(end) => end.min(total),
            Err(Errno::INVAL) => total,
            Err(e) => return Err(e.into()),
        };
        let mut at = start;
        while at < end {
            let len = usize::try_from((end - at).min(CHUNK)).unwrap_or(usize::MAX);
            let copied = copy_range(&source, &target, at, len)?;
            if copied == 0 {
                // The source shrank under us: what is left reads as holes.
                break;
            }
            at += copied as u64;
            report(at);
        }
        offset = end.max(at);
    }
    report(total);
    target.sync_all()?;
    Ok(total)
}

/// Copies up to `len` bytes at `at` from `source` to the same place in `target`.
fn copy_range(source: &File, target: &File, at: u64, len: usize) -> io::Result<usize> {
    let (mut from, mut to) = (at, at);
    match rustix::fs::copy_file_range(source, Some(&mut from), target, Some(&mut to), len) {
        Ok(copied) => Ok(copied),
        // Where the file system or kernel cannot: through a buffer.
        Err(Errno::XDEV | Errno::NOSYS | Errno::INVAL | Errno::OPNOTSUPP) => {
            let mut buffer = vec![0u8; len.min(BUFFER)];
            let read = source.read_at(&mut buffer, at)?;
            target.write_all_at(&buffer[..read], at)?;
            Ok(read)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::{Seek, Write};
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_copy_keeps_the_bytes_and_the_holes_and_reports_up_to_100() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder::open(dir.path().join("volumes")).unwrap();
        let source = folder.create("vol-1", 1).unwrap();
        assert!(folder.create("vol-1", 1).is_err(), "an id is created once");
        let mut file = OpenOptions::new().write(true).open(&source).unwrap();
        file.seek(std::io::SeekFrom::Start(GB / 2)).unwrap();
        file.write_all(b"written through the export").unwrap();
        drop(file);
        let target = dir.path().join("copy");
        let mut seen = Vec::new();
        assert_eq!(copy_sparse(&source, &target, |p| seen.push(p)).unwrap(), GB);
        assert_eq!(seen.last(), Some(&100));
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        let copied = std::fs::read(&target).unwrap();
        assert_eq!(copied.len() as u64, GB);
        assert_eq!(
            &copied[(GB / 2) as usize..][..26],
            b"written through the export"
        );
        // A few blocks of data, not a GB: the holes stayed holes.
        assert!(std::fs::metadata(&target).unwrap().blocks() * 512 < 4 << 20);
        // A longer target keeps its length (a volume larger than its snapshot).
        let larger = folder.create("vol-2", 2).unwrap();
        copy_sparse(&source, &larger, |_| {}).unwrap();
        assert_eq!(std::fs::metadata(&larger).unwrap().len(), 2 * GB);
        folder.remove("vol-1").unwrap();
        folder.remove("vol-1").unwrap();
        assert!(!source.exists());
    }

    /// Regression: a logical volume is a block device, whose metadata length is 0 and which
    /// cannot be truncated; copies from and to one (a loop device here) take its whole size.
    #[test]
    fn a_copy_reads_and_writes_block_devices_whole() {
        let dir = tempfile::tempdir().unwrap();
        let backing = dir.path().join("backing");
        std::fs::write(&backing, vec![0x5a; 4 << 20]).unwrap();
        let attach = std::process::Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&backing)
            .output();
        let device = match attach {
            Ok(out) if out.status.success() => String::from_utf8(out.stdout).unwrap(),
            other => {
                println!("skipped: no loop device ({other:?})");
                return;
            }
        };
        let device = Path::new(device.trim());
        let copy = dir.path().join("copy");
        let from_device = copy_sparse(device, &copy, |_| {});
        let snapshot = dir.path().join("snapshot");
        std::fs::write(&snapshot, vec![0xa5; 1 << 20]).unwrap();
        let to_device = copy_sparse(&snapshot, device, |_| {});
        let detached = std::process::Command::new("losetup")
            .arg("--detach")
            .arg(device)
            .status();
        assert_eq!(from_device.unwrap(), 4 << 20);
        assert_eq!(std::fs::read(&copy).unwrap(), vec![0x5a; 4 << 20]);
        assert_eq!(to_device.unwrap(), 1 << 20);
        let written = std::fs::read(&backing).unwrap();
        assert_eq!(written.len(), 4 << 20, "a device keeps its size");
        assert!(written[..1 << 20].iter().all(|b| *b == 0xa5));
        assert!(written[1 << 20..].iter().all(|b| *b == 0x5a));
        assert!(detached.unwrap().success());
    }
}
