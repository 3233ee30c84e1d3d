//! `aws-chunked` bodies: `hex-size[;chunk-signature=sig]\r\n data \r\n ... 0...\r\n`, then
//! trailing headers when the payload mode names a trailer, then `\r\n`.
//!
//! Signed chunks are checked as they arrive: each signature covers the chunk's SHA-256 and
//! the previous signature (the first one the request's own), so chunks can be neither
//! altered, dropped nor reordered. Data is passed on before its chunk's signature is seen;
//! a failure later fails the whole upload, which is then discarded.

use bytes::{Buf, Bytes, BytesMut};
use ring::{digest, hmac};

use super::v4::Scope;
use crate::digest::{crc32_from_text, from_hex, hex, CHECKSUM_CRC32};
use crate::error::S3Error;

/// Longest chunk header or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Most trailer lines accepted.
const MAX_TRAILERS: usize = 16;
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Computes the chain of chunk signatures of one request.
pub struct ChunkSigner {
    key: hmac::Key,
    amz_date: String,
    scope: String,
    previous: String,
}

impl std::fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ChunkSigner {
    /// `seed` is the request's own signature (hex).
    pub fn new(key: hmac::Key, amz_date: &str, scope: &Scope, seed: &str) -> Self {
        Self {
            key,
            amz_date: amz_date.to_owned(),
            scope: scope.text(),
            previous: seed.to_ascii_lowercase(),
        }
    }

    /// The signature of the next chunk, whose data hashes to `data_sha256`.
    fn next(&self, data_sha256: &[u8]) -> hmac::Tag {
        let text = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            hex(data_sha256)
        );
        hmac::sign(&self.key, text.as_bytes())
    }

    /// Checks `claimed` (hex) as the next chunk's signature and advances the chain.
    fn verify(&mut self, data_sha256: &[u8], claimed: &str) -> Result<(), S3Error> {
        let expected = self.next(data_sha256);
        let claimed = from_hex(claimed).ok_or(S3Error::SignatureDoesNotMatch)?;
        if claimed.len() != expected.as_ref().len()
            || !constant_time_eq(&claimed, expected.as_ref())
        {
            return Err(S3Error::SignatureDoesNotMatch);
        }
        self.previous = hex(expected.as_ref());
        Ok(())
    }
}

/// Compares without an early exit, so timing says nothing about where a guess went wrong.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk header line.
    Header,
    /// Inside a chunk's data.
    Data,
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last (empty) chunk: trailer lines until an empty line.
    Trailer,
    Done,
}

/// Decodes an `aws-chunked` body fed in pieces of any size.
pub struct ChunkDecoder {
    signer: Option<ChunkSigner>,
    trailer: bool,
    state: State,
    line: BytesMut,
    remaining: u64,
    claimed: String,
    chunk_hash: Option<digest::Context>,
    trailers: usize,
    /// The `x-amz-checksum-crc32` trailer, once read.
    crc32: Option<u32>,
}

impl std::fmt::Debug for ChunkDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkDecoder")
            .field("state", &self.state)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

fn malformed(what: &str) -> S3Error {
    S3Error::InvalidRequest(format!("malformed aws-chunked body: {what}"))
}

impl ChunkDecoder {
    /// `signer` checks chunk signatures (signed modes); `trailer` when the body ends with
    /// trailing headers (`...-TRAILER` modes). Of the trailing headers, a CRC32 is kept (see
    /// [`Self::trailing_crc32`]); the others are read and ignored.
    pub fn new(signer: Option<ChunkSigner>, trailer: bool) -> Self {
        Self {
            signer,
            trailer,
            state: State::Header,
            line: BytesMut::new(),
            remaining: 0,
            claimed: String::new(),
            chunk_hash: None,
            trailers: 0,
            crc32: None,
        }
    }

    /// The CRC32 the body's trailer promised for its data, if it named one.
    pub fn trailing_crc32(&self) -> Option<u32> {
        self.crc32
    }

    /// Decodes `input`, appending the data it holds to `out`.
    pub fn feed(&mut self, mut input: Bytes, out: &mut Vec<Bytes>) -> Result<(), S3Error> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailer | State::DataEnd => {
                    let Some(line) = self.take_line(&mut input)? else {
                        return Ok(());
                    };
                    self.on_line(&line)?;
                }
                State::Data => {
                    let n = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let data = input.split_to(n);
                    if let Some(hash) = &mut self.chunk_hash {
                        hash.update(&data);
                    }
                    self.remaining -= n as u64;
                    out.push(data);
                    if self.remaining == 0 {
                        self.end_of_chunk_data()?;
                        self.state = State::DataEnd;
                    }
                }
                State::Done => return Err(malformed("data after the end")),
            }
        }
        Ok(())
    }

    /// Checks that the body ended where the encoding says it ends.
    pub fn finish(&self) -> Result<(), S3Error> {
        if self.state == State::Done {
            Ok(())
        } else {
            Err(S3Error::IncompleteBody)
        }
    }

    /// Accumulates input up to a CRLF; returns the line without it once complete.
    fn take_line(&mut self, input: &mut Bytes) -> Result<Option<BytesMut>, S3Error> {
        let newline = input.iter().position(|&b| b == b'\n');
        let take = newline.map_or(input.len(), |i| i + 1);
        if self.line.len() + take > MAX_LINE {
            return Err(malformed("line too long"));
        }
        self.line.extend_from_slice(&input[..take]);
        input.advance(take);
        if newline.is_none() {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        if !line.ends_with(b"\r\n") {
            return Err(malformed("line not ended by CRLF"));
        }
        line.truncate(line.len() - 2);
        Ok(Some(line))
    }

    fn on_line(&mut self, line: &[u8]) -> Result<(), S3Error> {
        match self.state {
            State::DataEnd => {
                if !line.is_empty() {
                    return Err(malformed("chunk longer than its size"));
                }
                self.state = State::Header;
            }
            State::Header => self.on_header(line)?,
            State::Trailer => {
                if line.is_empty() {
                    self.state = State::Done;
                } else {
                    self.trailers += 1;
                    let header = std::str::from_utf8(line)
                        .ok()
                        .and_then(|l| l.split_once(':'));
                    let Some((name, value)) = header.filter(|_| self.trailer) else {
                        return Err(malformed("bad trailer"));
                    };
                    if self.trailers > MAX_TRAILERS {
                        return Err(malformed("bad trailer"));
                    }
                    if name.trim().eq_ignore_ascii_case(CHECKSUM_CRC32) {
                        self.crc32 = Some(crc32_from_text(value).ok_or_else(|| {
                            S3Error::InvalidRequest(format!(
                                "Value for {CHECKSUM_CRC32} trailing header is invalid."
                            ))
                        })?);
                    }
                }
            }
            State::Data | State::Done => {}
        }
        Ok(())
    }

    fn on_header(&mut self, line: &[u8]) -> Result<(), S3Error> {
        let line = std::str::from_utf8(line).map_err(|_| malformed("chunk header is not text"))?;
        let (size, extension) = line.split_once(';').unwrap_or((line, ""));
        let size = size.trim();
        if size.is_empty() || size.len() > 15 {
            return Err(malformed("bad chunk size"));
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| malformed("bad chunk size"))?;
        if self.signer.is_some() {
            self.claimed = extension
                .trim()
                .strip_prefix("chunk-signature=")
                .ok_or(S3Error::SignatureDoesNotMatch)?
                .to_owned();
            self.chunk_hash = Some(digest::Context::new(&digest::SHA256));
        }
        self.remaining = size;
        if size == 0 {
            self.end_of_chunk_data()?;
            // Trailing headers, if any, then an empty line end the body.
            self.state = State::Trailer;
        } else {
            self.state = State::Data;
        }
        Ok(())
    }

    fn end_of_chunk_data(&mut self) -> Result<(), S3Error> {
        if let (Some(signer), Some(hash)) = (&mut self.signer, self.chunk_hash.take()) {
            signer.verify(hash.finish().as_ref(), &self.claimed)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const SIGNATURES: [&str; 3] = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];

    fn signer() -> ChunkSigner {
        let scope = Scope {
            date: "20130524".into(),
            region: "us-east-1".into(),
            service: "s3".into(),
        };
        ChunkSigner::new(scope.signing_key(SECRET), "20130524T000000Z", &scope, SEED)
    }

    /// Amazon's documented streaming PUT: 65536 + 1024 bytes of `a`, then the final chunk.
    fn example_body(corrupt: bool) -> Vec<u8> {
        let mut body = Vec::new();
        for (size, sig) in [65536usize, 1024, 0].into_iter().zip(SIGNATURES) {
            body.extend_from_slice(format!("{size:x};chunk-signature={sig}\r\n").as_bytes());
            let mut data = vec![b'a'; size];
            if corrupt && size == 1024 {
                data[10] = b'b';
            }
            body.extend_from_slice(&data);
            body.extend_from_slice(b"\r\n");
        }
        body
    }

    fn decode(decoder: &mut ChunkDecoder, body: &[u8], piece: usize) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        for part in body.chunks(piece) {
            decoder.feed(Bytes::copy_from_slice(part), &mut out)?;
        }
        decoder.finish()?;
        Ok(out.concat())
    }

    #[test]
    fn amazons_example_decodes_in_pieces_of_any_size() {
        for piece in [1, 7, 4096, 70_000] {
            let mut decoder = ChunkDecoder::new(Some(signer()), false);
            let data = decode(&mut decoder, &example_body(false), piece).unwrap();
            assert_eq!(data, vec![b'a'; 66560], "piece {piece}");
        }
    }

    #[test]
    fn an_altered_chunk_fails_its_signature() {
        let mut decoder = ChunkDecoder::new(Some(signer()), false);
        let result = decode(&mut decoder, &example_body(true), 4096);
        assert!(matches!(result, Err(S3Error::SignatureDoesNotMatch)));
    }

    #[test]
    fn dropped_chunks_break_the_chain() {
        let body = example_body(false);
        let first_len = format!("10000;chunk-signature={}\r\n", SIGNATURES[0]).len() + 65536 + 2;
        let second_len = format!("400;chunk-signature={}\r\n", SIGNATURES[1]).len() + 1024 + 2;
        let mut dropped = body[..first_len].to_vec();
        dropped.extend_from_slice(&body[first_len + second_len..]);
        let mut decoder = ChunkDecoder::new(Some(signer()), false);
        let result = decode(&mut decoder, &dropped, 4096);
        assert!(matches!(result, Err(S3Error::SignatureDoesNotMatch)));
    }

    #[test]
    fn truncated_bodies_are_incomplete() {
        let body = example_body(false);
        let mut decoder = ChunkDecoder::new(Some(signer()), false);
        let result = decode(&mut decoder, &body[..body.len() - 3], 4096);
        assert!(matches!(result, Err(S3Error::IncompleteBody)));
    }

    #[test]
    fn unsigned_chunks_with_trailers_decode() {
        let body = b"5\r\nhello\r\n3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAQ==\r\n\r\n";
        let mut decoder = ChunkDecoder::new(None, true);
        let data = decode(&mut decoder, body, 3).unwrap();
        assert_eq!(data, b"helloabc");
        assert_eq!(decoder.trailing_crc32(), Some(1));
        let bad = b"0\r\nx-amz-checksum-crc32:nope\r\n\r\n";
        let result = decode(&mut ChunkDecoder::new(None, true), bad, 3);
        assert!(matches!(result, Err(S3Error::InvalidRequest(_))));
    }

    #[test]
    fn malformed_framing_is_refused() {
        for body in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"0\r\n\r\nextra",
            b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
        ] {
            assert!(
                decode(&mut ChunkDecoder::new(None, false), body, 64).is_err(),
                "{body:?}"
            );
        }
        let long = format!("{}\r\n", "1".repeat(5000));
        assert!(decode(&mut ChunkDecoder::new(None, false), long.as_bytes(), 64).is_err());
    }

    #[test]
    fn signed_chunks_need_their_signature() {
        let body = b"5\r\nhello\r\n0\r\n\r\n";
        assert!(matches!(
            decode(&mut ChunkDecoder::new(Some(signer()), false), body, 64),
            Err(S3Error::SignatureDoesNotMatch)
        ));
    }
}
