//! Logging set-up for the `euca` binary: every line to stderr, and, once a component has
//! opened its log file ([`log_to_file`]), the same lines to that file, bounded in size, from
//! which its GL service reads the recent ones.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The largest a component's log file grows before it is rotated. With the one older
/// generation kept beside it, a component's logs take at most twice this on disk, and hold
/// far more than the 1,000 KiB tail the original's GetLogs returned.
const LOG_FILE_LIMIT: u64 = 8 << 20;

/// The log file the process writes to besides stderr, once a component has opened one.
static SINK: RwLock<Option<LogFile>> = RwLock::new(None);

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`), coloured only on a terminal so
/// that log files and scripts reading them see plain `key=value` fields. The same lines, never
/// coloured, go to the log file given to [`log_to_file`] from then on.
pub fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // Formatting for the file is skipped while there is none.
    let file = tracing_subscriber::fmt::layer()
        .with_writer(SinkWriter)
        .with_ansi(false)
        .with_filter(filter_fn(|_| {
            SINK.read()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
        }));
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .init();
}

/// Opens `<data>/log/<component>.log` (folder 0700, file 0600, rotated at 8 MiB with one
/// older generation kept) and sends the process's log lines there too from now on, replacing
/// any earlier file. The original kept `$EUCALYPTUS/var/log/eucalyptus/<component>.log`; a
/// component's data folder is the one place it is sure to own.
pub fn log_to_file(data: &Path, component: &str) -> io::Result<LogFile> {
    let folder = data.join("log");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&folder)?;
    // A folder left open by an earlier run or by hand is closed.
    crate::private::close_open(&[&folder]).map_err(|e| e.source)?;
    let file = LogFile::open(&folder.join(format!("{component}.log")), LOG_FILE_LIMIT)?;
    *SINK.write().unwrap_or_else(PoisonError::into_inner) = Some(file.clone());
    Ok(file)
}

fn current_sink() -> Option<LogFile> {
    SINK.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Hands the file layer the current log file, or nothing.
struct SinkWriter;

impl<'a> MakeWriter<'a> for SinkWriter {
    type Writer = SinkLine;

    fn make_writer(&'a self) -> SinkLine {
        SinkLine(current_sink())
    }
}

/// Where one formatted event goes: the log file, or nowhere.
struct SinkLine(Option<LogFile>);

impl Write for SinkLine {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match &self.0 {
            Some(file) => file.append(bytes).map(|()| bytes.len()),
            None => Ok(bytes.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A log file bounded in size: when the next line would take it past its limit it is renamed
/// `<name>.1` (replacing the older one) and a fresh file is started, so lines are never split
/// between the two. Cheap to clone; clones share the file.
#[derive(Debug, Clone)]
pub struct LogFile {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    previous: PathBuf,
    limit: u64,
    current: Mutex<Current>,
}

#[derive(Debug)]
struct Current {
    file: File,
    len: u64,
}

impl LogFile {
    /// Opens `path` for appending (created 0600, made 0600 if it is open to others), rotated
    /// at `limit` bytes.
    pub fn open(path: &Path, limit: u64) -> io::Result<Self> {
        let current = open_current(path)?;
        let mut previous = path.as_os_str().to_owned();
        previous.push(".1");
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                previous: previous.into(),
                limit,
                current: Mutex::new(current),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Appends `line` (one whole formatted event), rotating first when it would not fit.
    pub fn append(&self, line: &[u8]) -> io::Result<()> {
        let mut current = self.lock();
        let size = line.len() as u64;
        if current.len > 0 && current.len + size > self.inner.limit {
            std::fs::rename(&self.inner.path, &self.inner.previous)?;
            *current = open_current(&self.inner.path)?;
        }
        current.file.write_all(line)?;
        current.len += size;
        Ok(())
    }

    /// The last `max` bytes logged (from the older generation too, when the current file
    /// holds fewer), starting at a whole line when anything before was left out.
    pub fn tail(&self, max: u64) -> io::Result<Vec<u8>> {
        // Held while reading, so that no rotation happens between the two reads.
        let current = self.lock();
        let mut text = Vec::new();
        let from_current = current.len.min(max);
        let from_previous = max - from_current;
        let mut cut = false;
        if from_previous > 0 {
            match File::open(&self.inner.previous) {
                Ok(mut older) => cut |= read_tail(&mut older, from_previous, &mut text)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let mut newer = File::open(&self.inner.path)?;
        cut |= read_tail(&mut newer, from_current, &mut text)?;
        if cut {
            // Leave out the part of a line whose beginning is not in the tail.
            let start = text.iter().position(|&b| b == b'\n').map_or(0, |at| at + 1);
            text.drain(..start);
        }
        Ok(text)
    }

    fn lock(&self) -> MutexGuard<'_, Current> {
        self.inner
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn open_current(path: &Path) -> io::Result<Current> {
    crate::private::own_file(path)?;
    let file = OpenOptions::new().append(true).open(path)?;
    let len = file.metadata()?.len();
    Ok(Current { file, len })
}

/// Appends the last `max` bytes of `file` to `out`; true when they begin inside a line.
fn read_tail(file: &mut File, max: u64, out: &mut Vec<u8>) -> io::Result<bool> {
    let len = file.metadata()?.len();
    let start = len.saturating_sub(max);
    if start == 0 {
        file.read_to_end(out)?;
        return Ok(false);
    }
    // The byte before the tail tells whether the tail begins a line.
    file.seek(SeekFrom::Start(start - 1))?;
    let mut before = [0u8];
    file.read_exact(&mut before)?;
    file.take(max).read_to_end(out)?;
    Ok(before[0] != b'\n')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Guards against logs, which name users and instances, readable by others; and shows
    /// that the process's lines reach the file once it is given.
    #[test]
    fn the_components_log_file_is_private_and_receives_the_processs_lines() {
        let data = tempfile::tempdir().unwrap();
        let folder = data.path().join("log");
        std::fs::create_dir(&folder).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
        let log = log_to_file(data.path(), "nc").unwrap();
        assert_eq!(log.path(), folder.join("nc.log"));
        assert_eq!((mode(&folder), mode(log.path())), (0o700, 0o600));
        SinkWriter
            .make_writer()
            .write_all(b"a formatted event\n")
            .unwrap();
        assert_eq!(log.tail(100).unwrap(), b"a formatted event\n");
    }

    fn line(n: usize) -> Vec<u8> {
        format!("line {n:04}\n").into_bytes()
    }

    /// Guards against a log file that grows without bound or is readable by others.
    #[test]
    fn the_file_rotates_at_its_limit_and_stays_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nc.log");
        let log = LogFile::open(&path, 100).unwrap();
        for n in 0..40 {
            log.append(&line(n)).unwrap();
        }
        let previous = dir.path().join("nc.log.1");
        for file in [&path, &previous] {
            let meta = std::fs::metadata(file).unwrap();
            assert!(
                meta.len() <= 100,
                "{} is {} bytes",
                file.display(),
                meta.len()
            );
            assert_eq!(mode(file), 0o600);
        }
        // Whole lines only, the newest last.
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.ends_with("line 0039\n"), "{newest}");
        assert!(newest.lines().all(|l| l.len() == 9), "{newest}");
    }

    #[test]
    fn the_tail_spans_both_generations_and_starts_at_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogFile::open(&dir.path().join("cc.log"), 100).unwrap();
        for n in 0..12 {
            log.append(&line(n)).unwrap();
        }
        // 10 lines of 10 bytes filled the first file; lines 10 and 11 are in the new one.
        let expected = "line 0008\nline 0009\nline 0010\nline 0011\n";
        // Cut inside line 7, which is left out; or at its end, where nothing is.
        for max in [45, 40] {
            let tail = String::from_utf8(log.tail(max).unwrap()).unwrap();
            assert_eq!(tail, expected, "tail of {max} bytes");
        }
        let all = String::from_utf8(log.tail(1 << 20).unwrap()).unwrap();
        assert_eq!(all.lines().count(), 12);
        assert!(all.starts_with("line 0000\n"), "{all}");
    }

    /// Guards against lines torn or lost when threads log across a rotation.
    #[test]
    fn concurrent_lines_stay_whole_across_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogFile::open(&dir.path().join("nc.log"), 4096).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let log = &log;
                scope.spawn(move || {
                    for n in 0..500 {
                        log.append(format!("thread {thread} line {n:04}\n").as_bytes())
                            .unwrap();
                    }
                });
            }
        });
        let tail = String::from_utf8(log.tail(8192).unwrap()).unwrap();
        // The older generation alone holds over 200 lines of 19 bytes.
        assert!(tail.lines().count() > 200, "{tail}");
        for line in tail.lines() {
            assert!(
                line.starts_with("thread ") && line.len() == "thread 0 line 0000".len(),
                "torn line {line:?}"
            );
        }
        let last = |thread: usize| format!("thread {thread} line 0499\n");
        assert!((0..4).any(|t| tail.ends_with(&last(t))), "{tail}");
    }

    #[test]
    fn an_existing_file_is_appended_to_and_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nc.log");
        std::fs::write(&path, b"earlier\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let log = LogFile::open(&path, 1 << 20).unwrap();
        log.append(b"later\n").unwrap();
        assert_eq!(log.tail(100).unwrap(), b"earlier\nlater\n");
        assert_eq!(mode(&path), 0o600);
    }
}
