//! What a component writes for its users (objects, databases, credentials, keys) is its
//! owner's only, whatever umask it inherited and whatever mode its folders already had.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tracing::warn;

/// Mode bits that open a file or folder to group or others.
const GROUP_AND_OTHERS: u32 = 0o077;

/// A folder that could not be checked or closed.
#[derive(Debug, thiserror::Error)]
#[error("cannot make {path} its owner's only: {source}")]
pub struct FolderError {
    pub path: PathBuf,
    pub source: io::Error,
}

/// Makes everything this process creates from now on its owner's only (files 0600, folders
/// 0700: the umask becomes 077), and closes each of `folders` (DATA, KEYS) as [`close_open`]
/// does. Process-wide: call it once at start, before anything is written.
pub fn own_only(folders: &[&Path]) -> Result<(), FolderError> {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(GROUP_AND_OTHERS));
    close_open(folders)
}

/// Closes each of `folders` that exists and is open to group or others (makes it 0700), with a
/// warning naming it. For a component that cannot take a 077 umask everywhere.
pub fn close_open(folders: &[&Path]) -> Result<(), FolderError> {
    for folder in folders {
        let failed = |source| FolderError {
            path: folder.to_path_buf(),
            source,
        };
        let mode = match std::fs::metadata(folder) {
            Ok(meta) => meta.permissions().mode() & 0o777,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(failed(e)),
        };
        if mode & GROUP_AND_OTHERS != 0 {
            warn!(folder = %folder.display(), mode = format!("{mode:o}"), "folder open to group or others: made its owner's only (0700)");
            std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o700))
                .map_err(failed)?;
        }
    }
    Ok(())
}

/// Creates `path` empty and 0600 if it is missing, and makes it 0600 if it is not, whatever the
/// umask: for a file another library creates (SQLite gives its journals the database's mode).
pub fn own_file(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;

    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    if file.metadata()?.permissions().mode() & GROUP_AND_OTHERS != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Writes `contents` to `path`, readable by its owner only, whole or not at all: staged beside
/// it, synced, then renamed over it, so a crash leaves the old file or the new one.
pub fn write_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let staged = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staged)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&staged, path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_written_file_is_private_whole_and_replaces_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eucarc");
        write_file(&path, b"first, and longer\n").unwrap();
        write_file(&path, b"second\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second\n");
        assert_eq!(mode(&path), 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "the staged file is gone");
    }

    /// Guards against private data under a folder others can read (issue 17, finding 3).
    #[test]
    fn open_folders_are_closed_and_new_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let (data, keys, closed) = (
            dir.path().join("data"),
            dir.path().join("keys"),
            dir.path().join("closed"),
        );
        for (folder, mode) in [(&data, 0o755), (&keys, 0o750), (&closed, 0o700)] {
            std::fs::create_dir(folder).unwrap();
            std::fs::set_permissions(folder, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let missing = dir.path().join("missing");
        own_only(&[&data, &keys, &closed, &missing]).unwrap();
        assert_eq!(
            (mode(&data), mode(&keys), mode(&closed)),
            (0o700, 0o700, 0o700)
        );
        assert!(!missing.exists());

        std::fs::write(data.join("object"), b"x").unwrap();
        std::fs::create_dir_all(data.join("a/b")).unwrap();
        assert_eq!(mode(&data.join("object")), 0o600);
        assert_eq!(mode(&data.join("a")), 0o700);
        assert_eq!(mode(&data.join("a/b")), 0o700);
    }

    /// Guards against a database file left readable by others (issue 17, finding 3).
    #[test]
    fn own_file_creates_or_closes_a_file_keeping_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let (fresh, open) = (dir.path().join("fresh"), dir.path().join("open"));
        std::fs::write(&open, b"records").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        own_file(&fresh).unwrap();
        own_file(&open).unwrap();
        assert_eq!((mode(&fresh), mode(&open)), (0o600, 0o600));
        assert_eq!(std::fs::read(&open).unwrap(), b"records");
    }
}
