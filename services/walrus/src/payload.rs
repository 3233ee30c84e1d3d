//! Request bodies as handlers see them: decoded (`aws-chunked`), checked against what the
//! signature promised (SHA-256, chunk signatures) and against their announced length, with
//! a size limit, an idle timeout and a minimum rate. Data comes out in pieces as it arrives.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use hyper::HeaderMap;
use ring::digest;
use tokio::time::Instant;

use crate::auth::{ChunkDecoder, PayloadCheck};
use crate::config::MinRate;
use crate::error::S3Error;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Longest wait for the next piece of a body.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A request body being read.
pub struct Payload {
    body: BoxBody<Bytes, BoxError>,
    decoder: Option<ChunkDecoder>,
    sha256: Option<([u8; 32], digest::Context)>,
    pending: VecDeque<Bytes>,
    received: u64,
    expected: Option<u64>,
    limit: u64,
    finished: bool,
    floor: Option<RateFloor>,
}

/// Counts what arrives while Walrus waits for the body, in windows of a [`MinRate`]: only
/// time spent waiting on the client counts, so a slow store never cuts a client off.
#[derive(Debug)]
struct RateFloor {
    rate: MinRate,
    waited: Duration,
    received: u64,
}

impl RateFloor {
    fn new(rate: MinRate) -> Self {
        Self {
            rate,
            waited: Duration::ZERO,
            received: 0,
        }
    }

    /// Waiting time left in the current window.
    fn left(&self) -> Duration {
        self.rate.window.saturating_sub(self.waited)
    }

    /// Adds a wait and what it brought; at the end of a window, refuses a body that arrived
    /// too slowly, else starts the next window.
    fn account(&mut self, waited: Duration, bytes: u64) -> Result<(), S3Error> {
        self.waited += waited;
        self.received += bytes;
        if self.waited < self.rate.window {
            return Ok(());
        }
        let wanted = self
            .rate
            .bytes_per_sec
            .saturating_mul(self.rate.window.as_secs().max(1));
        if self.received < wanted {
            return Err(S3Error::RequestTimeout);
        }
        self.waited = Duration::ZERO;
        self.received = 0;
        Ok(())
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("received", &self.received)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl Payload {
    /// Reads `body` under `check`; at most `limit` decoded bytes are accepted.
    pub fn new<B>(
        body: B,
        check: PayloadCheck,
        headers: &HeaderMap,
        limit: u64,
    ) -> Result<Self, S3Error>
    where
        B: hyper::body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let number = |name: &str| -> Result<Option<u64>, S3Error> {
            headers
                .get(name)
                .map(|v| {
                    v.to_str()
                        .ok()
                        .and_then(|t| t.trim().parse::<u64>().ok())
                        .ok_or_else(|| S3Error::InvalidArgument(format!("{name} must be a number")))
                })
                .transpose()
        };
        let (decoder, sha256, expected) = match check {
            PayloadCheck::Unsigned => (None, None, number("content-length")?),
            PayloadCheck::Sha256(digest) => (
                None,
                Some((digest, digest::Context::new(&digest::SHA256))),
                number("content-length")?,
            ),
            PayloadCheck::Chunked { signer, trailer } => {
                let decoded =
                    number("x-amz-decoded-content-length")?.ok_or(S3Error::MissingContentLength)?;
                (
                    Some(ChunkDecoder::new(signer.map(|s| *s), trailer)),
                    None,
                    Some(decoded),
                )
            }
        };
        if expected.is_some_and(|n| n > limit) {
            return Err(S3Error::EntityTooLarge);
        }
        Ok(Self {
            body: body.map_err(Into::into).boxed(),
            decoder,
            sha256,
            pending: VecDeque::new(),
            received: 0,
            expected,
            limit,
            finished: false,
            floor: None,
        })
    }

    /// The CRC32 an `aws-chunked` body's trailer promised, once the body is read.
    pub fn trailing_crc32(&self) -> Option<u32> {
        self.decoder.as_ref().and_then(ChunkDecoder::trailing_crc32)
    }

    /// Cuts the body off with `RequestTimeout` when it arrives slower than `rate`.
    pub fn with_min_rate(mut self, rate: Option<MinRate>) -> Self {
        self.floor = rate.map(RateFloor::new);
        self
    }

    /// The decoded length the request announced, if it did.
    pub fn expected_len(&self) -> Option<u64> {
        self.expected
    }

    /// The next piece of data; `None` at the end, once every check has passed.
    pub async fn next(&mut self) -> Result<Option<Bytes>, S3Error> {
        loop {
            if let Some(data) = self.pending.pop_front() {
                self.received += data.len() as u64;
                if self.received > self.limit {
                    return Err(S3Error::EntityTooLarge);
                }
                if self.expected.is_some_and(|n| self.received > n) {
                    return Err(S3Error::InvalidRequest(
                        "the body is longer than its announced length".into(),
                    ));
                }
                if let Some((_, context)) = &mut self.sha256 {
                    context.update(&data);
                }
                return Ok(Some(data));
            }
            if self.finished {
                return Ok(None);
            }
            let frame = self.next_frame().await?;
            match frame {
                None => self.finish()?,
                Some(Err(_)) => return Err(S3Error::IncompleteBody),
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    match &mut self.decoder {
                        Some(decoder) => {
                            let mut out = Vec::new();
                            decoder.feed(data, &mut out)?;
                            self.pending
                                .extend(out.into_iter().filter(|d| !d.is_empty()));
                        }
                        None if !data.is_empty() => self.pending.push_back(data),
                        None => {}
                    }
                }
            }
        }
    }

    /// The next frame of the raw body, within the idle timeout and the rate floor.
    async fn next_frame(
        &mut self,
    ) -> Result<Option<Result<hyper::body::Frame<Bytes>, BoxError>>, S3Error> {
        let idle_end = Instant::now() + IDLE_TIMEOUT;
        loop {
            let started = Instant::now();
            let deadline = self
                .floor
                .as_ref()
                .map_or(idle_end, |f| (started + f.left()).min(idle_end));
            // Waiting on a body frame again after a timeout loses nothing: it is cancel-safe.
            let result = tokio::time::timeout_at(deadline, self.body.frame()).await;
            let waited = started.elapsed();
            match result {
                Ok(frame) => {
                    if let Some(floor) = &mut self.floor {
                        let bytes = match &frame {
                            Some(Ok(frame)) => frame.data_ref().map_or(0, |d| d.len() as u64),
                            _ => 0,
                        };
                        floor.account(waited, bytes)?;
                    }
                    return Ok(frame);
                }
                Err(_) if Instant::now() >= idle_end => return Err(S3Error::RequestTimeout),
                Err(_) => {
                    if let Some(floor) = &mut self.floor {
                        floor.account(waited, 0)?;
                    }
                }
            }
        }
    }

    /// At the end of the body: the encoding ended properly, the length and hash match.
    fn finish(&mut self) -> Result<(), S3Error> {
        self.finished = true;
        if let Some(decoder) = &self.decoder {
            decoder.finish()?;
        }
        if self.expected.is_some_and(|n| self.received != n) {
            return Err(S3Error::IncompleteBody);
        }
        if let Some((expected, context)) = self.sha256.take() {
            if context.finish().as_ref() != expected {
                return Err(S3Error::ContentSha256Mismatch);
            }
        }
        Ok(())
    }

    /// The whole body, at most `max` bytes (request documents).
    pub async fn read_all(mut self, max: usize) -> Result<Bytes, S3Error> {
        if self.expected.is_some_and(|n| n > max as u64) {
            return Err(S3Error::EntityTooLarge);
        }
        let mut out = BytesMut::new();
        while let Some(data) = self.next().await? {
            if out.len() + data.len() > max {
                return Err(S3Error::EntityTooLarge);
            }
            out.extend_from_slice(&data);
        }
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use http_body_util::Full;
    use hyper::header::HeaderValue;

    use super::*;
    use crate::digest::{from_hex, sha256_hex};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn sha(data: &[u8]) -> [u8; 32] {
        <[u8; 32]>::try_from(from_hex(&sha256_hex(data)).unwrap()).unwrap()
    }

    async fn read(
        body: &'static [u8],
        check: PayloadCheck,
        headers: &HeaderMap,
        limit: u64,
    ) -> Result<Bytes, S3Error> {
        Payload::new(Full::new(Bytes::from_static(body)), check, headers, limit)?
            .read_all(1 << 20)
            .await
    }

    #[tokio::test]
    async fn sha256_payloads_are_checked_at_the_end() {
        let h = headers(&[("content-length", "5")]);
        let good = read(b"hello", PayloadCheck::Sha256(sha(b"hello")), &h, 100).await;
        assert_eq!(good.unwrap(), "hello");
        assert!(matches!(
            read(b"hellO", PayloadCheck::Sha256(sha(b"hello")), &h, 100).await,
            Err(S3Error::ContentSha256Mismatch)
        ));
    }

    #[tokio::test]
    async fn lengths_and_limits_are_enforced() {
        let h = headers(&[("content-length", "5")]);
        assert!(matches!(
            read(b"hello", PayloadCheck::Unsigned, &h, 4).await,
            Err(S3Error::EntityTooLarge)
        ));
        assert!(matches!(
            read(b"hell", PayloadCheck::Unsigned, &h, 10).await,
            Err(S3Error::IncompleteBody)
        ));
        assert!(matches!(
            read(b"hello", PayloadCheck::Unsigned, &HeaderMap::new(), 4).await,
            Err(S3Error::EntityTooLarge)
        ));
    }

    #[test]
    fn the_rate_floor_counts_waits_in_windows() {
        // Regression guard (issue 17, finding 5): a trickle is cut off at a window's end.
        let second = Duration::from_secs(1);
        let mut floor = RateFloor::new(MinRate {
            bytes_per_sec: 10,
            window: 2 * second,
        });
        floor.account(second, 15).unwrap();
        assert_eq!(floor.left(), second);
        floor.account(second, 5).unwrap();
        assert_eq!(
            floor.left(),
            2 * second,
            "a window at the rate starts another"
        );
        floor.account(Duration::from_millis(1500), 19).unwrap();
        assert!(matches!(
            floor.account(second, 0),
            Err(S3Error::RequestTimeout)
        ));
    }

    #[tokio::test]
    async fn chunked_payloads_need_their_decoded_length() {
        let check = || PayloadCheck::Chunked {
            signer: None,
            trailer: false,
        };
        let h = headers(&[("x-amz-decoded-content-length", "5")]);
        let body = b"5\r\nhello\r\n0\r\n\r\n";
        assert_eq!(read(body, check(), &h, 100).await.unwrap(), "hello");
        assert!(matches!(
            read(body, check(), &HeaderMap::new(), 100).await,
            Err(S3Error::MissingContentLength)
        ));
    }
}
