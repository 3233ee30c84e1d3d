//! Byte-stream adapters the bundle pipelines are built of: SHA1 on the way through, and
//! AES-128-CBC in either direction. Each holds one buffer of [`CHUNK`] bytes at most, so a
//! pipeline's memory does not depend on the size of what flows through it.

use std::io::{self, Read, Write};

use openssl::sha::Sha1;
use openssl::symm::{Crypter, Mode};

use super::keys::ImageKey;
use super::manifest::Sha1Digest;

/// Size of the buffers of the pipelines.
pub(super) const CHUNK: usize = 64 << 10;
const AES_BLOCK: usize = 16;

/// Passes reads through, hashing what passes.
pub(super) struct Sha1Reader<R> {
    inner: R,
    hasher: Sha1,
}

impl<R: Read> Sha1Reader<R> {
    pub(super) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha1::new(),
        }
    }

    pub(super) fn into_parts(self) -> (R, Sha1Digest) {
        (self.inner, self.hasher.finish())
    }
}

impl<R: Read> Read for Sha1Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Passes writes through, hashing what passes.
pub(super) struct Sha1Writer<W> {
    inner: W,
    hasher: Sha1,
}

impl<W: Write> Sha1Writer<W> {
    pub(super) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha1::new(),
        }
    }

    pub(super) fn into_parts(self) -> (W, Sha1Digest) {
        (self.inner, self.hasher.finish())
    }
}

impl<W: Write> Write for Sha1Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts what it reads. A wrong key or a truncated stream shows at the end, as bad
/// padding: an `InvalidData` error.
pub(super) struct DecryptReader<R> {
    inner: R,
    crypter: Crypter,
    input: Vec<u8>,
    output: Vec<u8>,
    start: usize,
    finished: bool,
}

impl<R: Read> DecryptReader<R> {
    pub(super) fn new(inner: R, key: &ImageKey) -> io::Result<Self> {
        Ok(Self {
            inner,
            crypter: key.crypter(Mode::Decrypt).map_err(io::Error::other)?,
            input: vec![0; CHUNK],
            output: Vec::with_capacity(CHUNK + AES_BLOCK),
            start: 0,
            finished: false,
        })
    }

    /// Decrypts the next chunk into `output`; false at the end of the stream.
    fn refill(&mut self) -> io::Result<bool> {
        if self.finished {
            return Ok(false);
        }
        let n = self.inner.read(&mut self.input)?;
        self.output.resize(n + AES_BLOCK, 0);
        self.start = 0;
        let produced = if n == 0 {
            self.finished = true;
            self.crypter.finalize(&mut self.output).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the encrypted stream does not end in valid padding",
                )
            })?
        } else {
            self.crypter
                .update(&self.input[..n], &mut self.output)
                .map_err(io::Error::other)?
        };
        self.output.truncate(produced);
        Ok(true)
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.start == self.output.len() {
            if buf.is_empty() || !self.refill()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.output.len() - self.start);
        buf[..n].copy_from_slice(&self.output[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

/// Encrypts what is written; [`EncryptWriter::finish`] writes the padded last block.
pub(super) struct EncryptWriter<W> {
    inner: W,
    crypter: Crypter,
    output: Vec<u8>,
}

impl<W: Write> EncryptWriter<W> {
    pub(super) fn new(inner: W, key: &ImageKey) -> io::Result<Self> {
        Ok(Self {
            inner,
            crypter: key.crypter(Mode::Encrypt).map_err(io::Error::other)?,
            output: Vec::with_capacity(CHUNK + AES_BLOCK),
        })
    }

    pub(super) fn finish(mut self) -> io::Result<W> {
        self.output.resize(AES_BLOCK * 2, 0);
        let n = self
            .crypter
            .finalize(&mut self.output)
            .map_err(io::Error::other)?;
        self.inner.write_all(&self.output[..n])?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let chunk = &buf[..buf.len().min(CHUNK)];
        self.output.resize(chunk.len() + AES_BLOCK, 0);
        let n = self
            .crypter
            .update(chunk, &mut self.output)
            .map_err(io::Error::other)?;
        self.inner.write_all(&self.output[..n])?;
        Ok(chunk.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
