//! Blobs as files under `DATA/blobs/xx/<id>` (`xx`: the id's first two hex digits), written
//! in `DATA/staging` on the same file system, then fsynced and renamed into place.

use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{Backend, BlobId, BlobReader, BlobWriter, BoxFuture, StorageError};

/// Data is written in pieces of this size: fewer, larger writes.
const WRITE_BUFFER: usize = 1 << 20;
/// Largest piece read at once.
const READ_BUFFER: usize = 256 << 10;

/// Blobs on the local disk.
#[derive(Debug, Clone)]
pub struct LocalDisk {
    blobs: PathBuf,
    staging: PathBuf,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_owned(),
        source,
    }
}

fn task_error(error: tokio::task::JoinError) -> StorageError {
    StorageError::Task(error.to_string())
}

impl LocalDisk {
    /// Uses (creating) `data/blobs` and `data/staging`.
    pub fn open(data: &Path) -> Result<Self, StorageError> {
        let disk = Self {
            blobs: data.join("blobs"),
            staging: data.join("staging"),
        };
        for dir in [&disk.blobs, &disk.staging] {
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        }
        Ok(disk)
    }

    fn path(&self, id: &str) -> PathBuf {
        self.blobs.join(id.get(..2).unwrap_or("00")).join(id)
    }

    /// A staging file name; staging holds nothing else, so clearing it is safe.
    fn staging_path(&self, id: &str) -> PathBuf {
        self.staging.join(format!("{id}.part"))
    }
}

/// Moves a finished staging file to `target`, durably: file data, then the rename, then the
/// directory entry.
fn publish_file(file: &std::fs::File, staged: &Path, target: &Path) -> Result<(), StorageError> {
    file.sync_all().map_err(io_error(staged))?;
    let dir = target.parent().unwrap_or(target);
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    std::fs::rename(staged, target).map_err(io_error(target))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// A staging file, removed when dropped unless kept (published under its blob name).
#[derive(Debug)]
pub(super) struct Staged {
    path: Option<PathBuf>,
}

impl Staged {
    pub fn new(path: PathBuf) -> Self {
        Self { path: Some(path) }
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// The file was renamed into place: nothing to remove.
    fn keep(&mut self) {
        self.path.take();
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

struct LocalWriter {
    target: PathBuf,
    blob: BlobId,
    file: File,
    buffer: BytesMut,
    staged: Staged,
}

impl LocalWriter {
    async fn flush(&mut self) -> Result<(), StorageError> {
        if !self.buffer.is_empty() {
            let data = self.buffer.split().freeze();
            self.file
                .write_all(&data)
                .await
                .map_err(io_error(self.staged.path()))?;
        }
        Ok(())
    }
}

impl BlobWriter for LocalWriter {
    fn write(&mut self, data: Bytes) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.buffer.extend_from_slice(&data);
            if self.buffer.len() >= WRITE_BUFFER {
                self.flush().await?;
            }
            Ok(())
        })
    }

    fn publish(mut self: Box<Self>) -> BoxFuture<'static, Result<BlobId, StorageError>> {
        Box::pin(async move {
            self.flush().await?;
            self.file
                .flush()
                .await
                .map_err(io_error(self.staged.path()))?;
            let Self {
                target,
                blob,
                file,
                mut staged,
                ..
            } = *self;
            let file = file.into_std().await;
            tokio::task::spawn_blocking(move || {
                publish_file(&file, staged.path(), &target)?;
                staged.keep();
                Ok::<_, StorageError>(())
            })
            .await
            .map_err(task_error)??;
            Ok(blob)
        })
    }
}

struct LocalReader {
    file: File,
    path: PathBuf,
    remaining: u64,
}

impl BlobReader for LocalReader {
    fn next(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, StorageError>> {
        Box::pin(async move {
            if self.remaining == 0 {
                return Ok(None);
            }
            let want = usize::try_from(self.remaining)
                .unwrap_or(usize::MAX)
                .min(READ_BUFFER);
            let mut buffer = BytesMut::with_capacity(want);
            while buffer.len() < want {
                let n = (&mut self.file)
                    .take((want - buffer.len()) as u64)
                    .read_buf(&mut buffer)
                    .await
                    .map_err(io_error(&self.path))?;
                if n == 0 {
                    return Err(StorageError::Io {
                        path: self.path.clone(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "blob shorter than its record",
                        ),
                    });
                }
            }
            self.remaining -= buffer.len() as u64;
            Ok(Some(buffer.freeze()))
        })
    }
}

impl Backend for LocalDisk {
    fn create_bucket<'a>(&'a self, _bucket: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async { Ok(()) })
    }

    fn delete_bucket<'a>(&'a self, _bucket: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async { Ok(()) })
    }

    fn writer<'a>(
        &'a self,
        bucket: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn BlobWriter>, StorageError>> {
        Box::pin(async move {
            let blob = BlobId::generate(bucket)?;
            let path = self.staging_path(&blob.id);
            let file = File::create(&path).await.map_err(io_error(&path))?;
            Ok(Box::new(LocalWriter {
                target: self.path(&blob.id),
                blob,
                file,
                buffer: BytesMut::with_capacity(WRITE_BUFFER),
                staged: Staged::new(path),
            }) as Box<dyn BlobWriter>)
        })
    }

    fn reader<'a>(
        &'a self,
        blob: &'a BlobId,
        range: Range<u64>,
    ) -> BoxFuture<'a, Result<Box<dyn BlobReader>, StorageError>> {
        Box::pin(async move {
            let path = self.path(&blob.id);
            let mut file = match File::open(&path).await {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StorageError::Missing(blob.to_string()))
                }
                Err(e) => return Err(io_error(&path)(e)),
            };
            file.seek(std::io::SeekFrom::Start(range.start))
                .await
                .map_err(io_error(&path))?;
            Ok(Box::new(LocalReader {
                file,
                path,
                remaining: range.end.saturating_sub(range.start),
            }) as Box<dyn BlobReader>)
        })
    }

    fn copy<'a>(
        &'a self,
        blob: &'a BlobId,
        to: &'a str,
    ) -> BoxFuture<'a, Result<BlobId, StorageError>> {
        Box::pin(async move {
            let copy = BlobId::generate(to)?;
            let source = self.path(&blob.id);
            let staged_path = self.staging_path(&copy.id);
            let target = self.path(&copy.id);
            tokio::task::spawn_blocking(move || {
                let mut staged = Staged::new(staged_path);
                // std::fs::copy lets the kernel copy (copy_file_range) without our buffers.
                std::fs::copy(&source, staged.path()).map_err(io_error(&source))?;
                let file = std::fs::File::open(staged.path()).map_err(io_error(staged.path()))?;
                publish_file(&file, staged.path(), &target)?;
                staged.keep();
                Ok::<_, StorageError>(())
            })
            .await
            .map_err(task_error)??;
            Ok(copy)
        })
    }

    fn delete<'a>(&'a self, blob: &'a BlobId) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let path = self.path(&blob.id);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_error(&path)(e)),
            }
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<BlobId>, StorageError>> {
        let blobs = self.blobs.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || list_files(&blobs))
                .await
                .map_err(task_error)?
        })
    }

    fn clear_staging(&self) -> BoxFuture<'_, Result<usize, StorageError>> {
        Box::pin(clear_dir(self.staging.clone()))
    }
}

/// Removes every file in `dir`; returns how many there were.
pub(super) async fn clear_dir(dir: PathBuf) -> Result<usize, StorageError> {
    tokio::task::spawn_blocking(move || {
        let mut removed = 0;
        for entry in std::fs::read_dir(&dir).map_err(io_error(&dir))? {
            let path = entry.map_err(io_error(&dir))?.path();
            std::fs::remove_file(&path).map_err(io_error(&path))?;
            removed += 1;
        }
        Ok(removed)
    })
    .await
    .map_err(task_error)?
}

/// Every blob file; the local disk does not record buckets, so they are left empty. Files
/// not named like blobs are listed too, so that recovery removes them.
fn list_files(blobs: &Path) -> Result<Vec<BlobId>, StorageError> {
    let mut found = Vec::new();
    for dir in std::fs::read_dir(blobs).map_err(io_error(blobs))? {
        let dir = dir.map_err(io_error(blobs))?.path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).map_err(io_error(&dir))? {
            let file = file.map_err(io_error(&dir))?;
            if let Some(name) = file.file_name().to_str() {
                found.push(BlobId {
                    bucket: String::new(),
                    id: name.to_owned(),
                });
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn read_all(disk: &LocalDisk, blob: &BlobId, range: Range<u64>) -> Vec<u8> {
        let mut reader = disk.reader(blob, range).await.unwrap();
        let mut out = Vec::new();
        while let Some(data) = reader.next().await.unwrap() {
            out.extend_from_slice(&data);
        }
        out
    }

    fn staging_is_empty(dir: &Path) -> bool {
        std::fs::read_dir(dir.join("staging"))
            .unwrap()
            .next()
            .is_none()
    }

    #[tokio::test]
    async fn blobs_are_written_published_read_copied_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let disk = LocalDisk::open(dir.path()).unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut writer = disk.writer("b").await.unwrap();
        for piece in data.chunks(100_000) {
            writer.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        // Nothing is visible before publishing.
        assert!(disk.list().await.unwrap().is_empty());
        let blob = writer.publish().await.unwrap();
        assert_eq!(read_all(&disk, &blob, 0..data.len() as u64).await, data);
        assert_eq!(
            read_all(&disk, &blob, 10..1_000_010).await,
            &data[10..1_000_010]
        );
        let copy = disk.copy(&blob, "c").await.unwrap();
        assert_eq!(read_all(&disk, &copy, 0..5).await, &data[..5]);
        let mut ids: Vec<String> = disk
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.id)
            .collect();
        ids.sort();
        let mut expected = vec![blob.id.clone(), copy.id.clone()];
        expected.sort();
        assert_eq!(ids, expected);
        disk.delete(&blob).await.unwrap();
        disk.delete(&blob).await.unwrap();
        assert!(matches!(
            disk.reader(&blob, 0..1).await,
            Err(StorageError::Missing(_))
        ));
        assert!(staging_is_empty(dir.path()));
    }

    #[tokio::test]
    async fn a_dropped_writer_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let disk = LocalDisk::open(dir.path()).unwrap();
        let mut writer = disk.writer("b").await.unwrap();
        writer.write(Bytes::from_static(b"partial")).await.unwrap();
        drop(writer);
        assert!(staging_is_empty(dir.path()));
        assert!(disk.list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn staging_leftovers_are_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let disk = LocalDisk::open(dir.path()).unwrap();
        std::fs::write(disk.staging_path("0123"), b"crash leftover").unwrap();
        assert_eq!(disk.clear_staging().await.unwrap(), 1);
        assert_eq!(disk.clear_staging().await.unwrap(), 0);
    }
}
