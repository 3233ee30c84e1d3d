//! Opening a bundle: the parts in order, each checked against its SHA1 → AES-128-CBC
//! decryption → gunzip → the tar stream, whose SHA1 must be the image digest → the one file
//! it holds. Everything streams through fixed buffers; the caller decides where the image
//! goes and throws it away unless [`unbundle`] succeeds.

use std::io::{self, BufReader, Read, Write};

use openssl::sha::Sha1;

use super::keys::ImageKey;
use super::manifest::{Image, Part};
use super::stream::{DecryptReader, Sha1Reader, CHUNK};

/// Why a bundle did not yield its image.
#[derive(Debug, thiserror::Error)]
pub enum UnbundleError {
    #[error("part {filename} cannot be read: {source}")]
    PartRead {
        filename: String,
        #[source]
        source: io::Error,
    },
    #[error("part {filename} does not match its digest")]
    PartDigest { filename: String },
    #[error("the parts hold {actual} bytes, the manifest says {expected}")]
    BundledSize { expected: u64, actual: u64 },
    #[error("the bundle does not decrypt to a gzip-compressed tar stream: {0}")]
    Corrupt(String),
    #[error("the tar stream does not match the image digest")]
    ImageDigest,
    #[error("the tar stream holds {0}, not one image file")]
    Contents(String),
    #[error("the image holds {actual} bytes, the manifest says {expected}")]
    ImageSize { expected: u64, actual: u64 },
    #[error("the image cannot be written: {0}")]
    Output(#[source] io::Error),
}

/// Decrypts the bundle described by `image` into `out` and returns the image's size.
/// `open_part` opens each part's bytes. Every digest and size in the manifest is checked;
/// on error, what was written to `out` must be discarded.
pub fn unbundle<F, R, W>(
    image: &Image,
    key: &ImageKey,
    open_part: F,
    out: &mut W,
) -> Result<u64, UnbundleError>
where
    F: FnMut(&Part) -> io::Result<R>,
    R: Read,
    W: Write,
{
    let mut parts = PartsReader::new(image, open_part);
    match decode(&mut parts, image, key, out) {
        Ok(size) => Ok(size),
        Err(error) => Err(parts.take_failure().unwrap_or_else(|| match error {
            // A damaged part usually breaks the padding or the gzip stream before its own
            // end is reached: reading on through the parts names the precise cause.
            UnbundleError::Corrupt(_) => parts.check_rest().err().unwrap_or(error),
            other => other,
        })),
    }
}

fn decode<R: Read, W: Write>(
    parts: R,
    image: &Image,
    key: &ImageKey,
    out: &mut W,
) -> Result<u64, UnbundleError> {
    let plain = DecryptReader::new(parts, key).map_err(corrupt)?;
    let mut gunzip = flate2::bufread::GzDecoder::new(BufReader::with_capacity(CHUNK, plain));
    let mut archive = tar::Archive::new(Sha1Reader::new(&mut gunzip));
    let size = extract(&mut archive, image.size, out)?;

    // The digest covers the whole tar stream, the end-of-archive blocks and padding too.
    let mut tar_stream = archive.into_inner();
    io::copy(&mut tar_stream, &mut io::sink()).map_err(corrupt)?;
    if tar_stream.into_parts().1 != image.digest {
        return Err(UnbundleError::ImageDigest);
    }
    // Nothing may follow the gzip stream; reading to the end also checks the padding, the
    // last part's digest and the total size.
    let mut rest = gunzip.into_inner();
    if rest.read(&mut [0; 1]).map_err(corrupt)? != 0 {
        return Err(UnbundleError::Corrupt(
            "data follows the gzip stream".into(),
        ));
    }
    if size != image.size {
        return Err(UnbundleError::ImageSize {
            expected: image.size,
            actual: size,
        });
    }
    Ok(size)
}

fn corrupt(error: io::Error) -> UnbundleError {
    UnbundleError::Corrupt(error.to_string())
}

/// Copies the only regular file of the archive to `out`, refusing more than `limit` bytes.
fn extract<R: Read, W: Write>(
    archive: &mut tar::Archive<R>,
    limit: u64,
    out: &mut W,
) -> Result<u64, UnbundleError> {
    let mut copied = None;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                if copied.is_some() {
                    return Err(UnbundleError::Contents("more than one file".into()));
                }
                copied = Some(copy_bounded(&mut entry, limit, out)?);
            }
            tar::EntryType::Directory | tar::EntryType::XGlobalHeader => {}
            other => {
                return Err(UnbundleError::Contents(format!(
                    "an entry of type {other:?}"
                )))
            }
        }
    }
    copied.ok_or_else(|| UnbundleError::Contents("no file".into()))
}

fn copy_bounded<R: Read, W: Write>(
    from: &mut R,
    limit: u64,
    out: &mut W,
) -> Result<u64, UnbundleError> {
    let mut buf = vec![0; CHUNK];
    let mut copied: u64 = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        copied += n as u64;
        if copied > limit {
            return Err(UnbundleError::ImageSize {
                expected: limit,
                actual: copied,
            });
        }
        out.write_all(&buf[..n]).map_err(UnbundleError::Output)?;
    }
}

/// The parts as one stream, each checked against its digest at its end. A failure is kept
/// (the layers above only see an I/O error) for [`unbundle`] to report.
struct PartsReader<'m, F, R> {
    parts: &'m [Part],
    expected_total: u64,
    open: F,
    current: Option<OpenPart<'m, R>>,
    next: usize,
    total: u64,
    failure: Option<UnbundleError>,
}

struct OpenPart<'m, R> {
    part: &'m Part,
    reader: R,
    hasher: Sha1,
}

impl<'m, F, R> PartsReader<'m, F, R>
where
    F: FnMut(&Part) -> io::Result<R>,
    R: Read,
{
    fn new(image: &'m Image, open: F) -> Self {
        Self {
            parts: &image.parts,
            expected_total: image.bundled_size,
            open,
            current: None,
            next: 0,
            total: 0,
            failure: None,
        }
    }

    fn take_failure(&mut self) -> Option<UnbundleError> {
        self.failure.take()
    }

    /// Reads the remaining parts, checking them.
    fn check_rest(&mut self) -> Result<(), UnbundleError> {
        let mut buf = vec![0; CHUNK];
        loop {
            match self.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(_) => return self.take_failure().map_or(Ok(()), Err),
            }
        }
    }

    fn next_bytes(&mut self, buf: &mut [u8]) -> Result<usize, UnbundleError> {
        loop {
            let Some(open) = self.current.as_mut() else {
                let Some(part) = self.parts.get(self.next) else {
                    return if self.total == self.expected_total {
                        Ok(0)
                    } else {
                        Err(self.size_error())
                    };
                };
                let reader = (self.open)(part).map_err(|source| UnbundleError::PartRead {
                    filename: part.filename.clone(),
                    source,
                })?;
                self.current = Some(OpenPart {
                    part,
                    reader,
                    hasher: Sha1::new(),
                });
                self.next += 1;
                continue;
            };
            let n = match open.reader.read(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(UnbundleError::PartRead {
                        filename: open.part.filename.clone(),
                        source,
                    })
                }
            };
            if n == 0 {
                if let Some(done) = self.current.take() {
                    if done.hasher.finish() != done.part.digest {
                        return Err(UnbundleError::PartDigest {
                            filename: done.part.filename.clone(),
                        });
                    }
                }
                continue;
            }
            open.hasher.update(&buf[..n]);
            self.total += n as u64;
            if self.total > self.expected_total {
                return Err(self.size_error());
            }
            return Ok(n);
        }
    }

    fn size_error(&self) -> UnbundleError {
        UnbundleError::BundledSize {
            expected: self.expected_total,
            actual: self.total,
        }
    }
}

impl<F, R> Read for PartsReader<'_, F, R>
where
    F: FnMut(&Part) -> io::Result<R>,
    R: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(failure) = &self.failure {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                failure.to_string(),
            ));
        }
        self.next_bytes(buf).map_err(|failure| {
            let error = io::Error::new(io::ErrorKind::InvalidData, failure.to_string());
            self.failure = Some(failure);
            error
        })
    }
}
