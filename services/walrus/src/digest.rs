//! Digests and their text forms: MD5 for ETags and Content-MD5 (openssl: ring has no MD5),
//! SHA-256 for SigV4 payloads (ring).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use openssl::hash::{Hasher, MessageDigest};
use ring::digest;

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// Decodes hex of either case; `None` for odd lengths or other characters.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| char::from(c).to_digit(16);
            u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()
        })
        .collect()
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// The header (or trailer) of a CRC32 of a request's data, and of a stored object's: stored
/// with the object when the client sent one, and given back when asked for with
/// `x-amz-checksum-mode: ENABLED`, as S3 does.
pub const CHECKSUM_CRC32: &str = "x-amz-checksum-crc32";
/// The header that says what a checksum covers: `FULL_OBJECT`, or `COMPOSITE` when it is
/// made of an upload's parts' checksums (its text then ends in `-` and their count).
pub const CHECKSUM_TYPE: &str = "x-amz-checksum-type";

/// S3's text of a CRC32: base64 of its big-endian bytes.
pub fn crc32_text(crc32: u32) -> String {
    BASE64.encode(crc32.to_be_bytes())
}

/// The CRC32 a text of [`crc32_text`]'s form holds.
pub fn crc32_from_text(text: &str) -> Option<u32> {
    let bytes = BASE64.decode(text.trim()).ok()?;
    <[u8; 4]>::try_from(bytes).ok().map(u32::from_be_bytes)
}

/// Pieces in flight to a [`ParallelDigests`].
const PARALLEL_DEPTH: usize = 16;

/// The digests of an upload: its MD5 (the ETag) and its CRC32 (S3's checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    pub md5: [u8; 16],
    pub crc32: u32,
}

impl Digests {
    /// The digests of `data` at once.
    pub fn of(data: &[u8]) -> Result<Self, Md5Error> {
        let mut md5 = Md5::new()?;
        md5.update(data)?;
        Ok(Self {
            md5: md5.finish()?,
            crc32: crc32fast::hash(data),
        })
    }
}

/// Digests computed on a blocking thread while the caller does other work with the same
/// data (writes it): on a multi-core host hashing and writing then overlap.
#[derive(Debug)]
pub struct ParallelDigests {
    sender: tokio::sync::mpsc::Sender<bytes::Bytes>,
    task: tokio::task::JoinHandle<Result<Digests, Md5Error>>,
}

impl ParallelDigests {
    pub fn start() -> Self {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(PARALLEL_DEPTH);
        let task = tokio::task::spawn_blocking(move || {
            let mut md5 = Md5::new()?;
            let mut crc32 = crc32fast::Hasher::new();
            while let Some(data) = receiver.blocking_recv() {
                md5.update(&data)?;
                crc32.update(&data);
            }
            Ok(Digests {
                md5: md5.finish()?,
                crc32: crc32.finalize(),
            })
        });
        Self { sender, task }
    }

    /// Hashes `data` next (a cheap clone of the caller's bytes).
    pub async fn update(&self, data: bytes::Bytes) -> Result<(), Md5Error> {
        self.sender.send(data).await.map_err(|_| Md5Error::Stopped)
    }

    pub async fn finish(self) -> Result<Digests, Md5Error> {
        drop(self.sender);
        self.task.await.map_err(|_| Md5Error::Stopped)?
    }
}

/// A running MD5.
pub struct Md5(Hasher);

impl std::fmt::Debug for Md5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Md5")
    }
}

/// Why an MD5 could not be computed (openssl failed, or its thread did: they should not).
#[derive(Debug, thiserror::Error)]
pub enum Md5Error {
    #[error("MD5: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    #[error("MD5: the hashing thread stopped")]
    Stopped,
}

impl Md5 {
    pub fn new() -> Result<Self, Md5Error> {
        Ok(Self(Hasher::new(MessageDigest::md5())?))
    }

    pub fn update(&mut self, data: &[u8]) -> Result<(), Md5Error> {
        Ok(self.0.update(data)?)
    }

    pub fn finish(mut self) -> Result<[u8; 16], Md5Error> {
        let digest = self.0.finish()?;
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(from_hex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[tokio::test]
    async fn parallel_digests_equal_whole_ones() {
        let digests = ParallelDigests::start();
        for piece in [&b"hello "[..], b"parallel ", b"world"] {
            digests
                .update(bytes::Bytes::copy_from_slice(piece))
                .await
                .unwrap();
        }
        let whole = b"hello parallel world";
        assert_eq!(digests.finish().await.unwrap(), Digests::of(whole).unwrap());
    }

    #[test]
    fn known_digests() {
        assert_eq!(
            hex(&Digests::of(b"").unwrap().md5),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(Digests::of(b"123456789").unwrap().crc32, 0xCBF4_3926);
        assert_eq!(crc32_text(0xCBF4_3926), "y/Q5Jg==");
        assert_eq!(crc32_from_text(" y/Q5Jg== "), Some(0xCBF4_3926));
        assert_eq!(crc32_from_text("AAAAAAA="), None);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
