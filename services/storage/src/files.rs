//! Volume and snapshot files: sparse files of whole GB (the `file` backend), and the copy
//! between them that keeps holes as holes and reports its progress.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const GB: u64 = 1 << 30;
/// The copy's unit: memory stays at one buffer whatever the volume's size.
const CHUNK: usize = 1 << 20;

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
        let path = self.path(id);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.set_len(u64::from(size_gb) * GB)?;
        Ok(path)
    }

    pub fn remove(&self, id: &str) -> io::Result<()> {
        match std::fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Copies `from` over `to` (truncated first, then made `from`'s length at least), writing no
/// zero chunk, so a sparse source stays sparse; `progress` hears each new whole percent.
pub fn copy_sparse(from: &Path, to: &Path, mut progress: impl FnMut(u8)) -> io::Result<u64> {
    let mut source = File::open(from)?;
    let total = source.metadata()?.len();
    let mut target = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(to)?;
    let mut buffer = vec![0u8; CHUNK];
    let mut done = 0u64;
    let mut reported = 0u8;
    loop {
        let read = read_full(&mut source, &mut buffer)?;
        if read == 0 {
            break;
        }
        let chunk = &buffer[..read];
        if chunk.iter().all(|b| *b == 0) {
            target.seek(SeekFrom::Current(read as u64 as i64))?;
        } else {
            target.write_all(chunk)?;
        }
        done += read as u64;
        let percent = (done * 100 / total.max(1)).min(100) as u8;
        if percent > reported {
            reported = percent;
            progress(percent);
        }
    }
    let length = target.metadata()?.len().max(done);
    target.set_len(length)?;
    target.sync_all()?;
    Ok(done)
}

fn read_full(source: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match source.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_copy_keeps_the_bytes_and_the_holes_and_reports_up_to_100() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Folder::open(dir.path().join("volumes")).unwrap();
        let source = folder.create("vol-1", 1).unwrap();
        assert!(folder.create("vol-1", 1).is_err(), "an id is created once");
        let mut file = OpenOptions::new().write(true).open(&source).unwrap();
        file.seek(SeekFrom::Start(GB / 2)).unwrap();
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
        // One MiB of data, not a GB: the holes stayed holes.
        assert!(std::fs::metadata(&target).unwrap().blocks() * 512 < 4 * CHUNK as u64);
        folder.remove("vol-1").unwrap();
        folder.remove("vol-1").unwrap();
        assert!(!source.exists());
    }
}
