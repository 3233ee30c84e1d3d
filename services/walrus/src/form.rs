//! `multipart/form-data` bodies (browser POST uploads), read as they arrive: small fields
//! into memory, the file part streamed piece by piece.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::S3Error;
use crate::payload::Payload;

/// Longest header block of one part.
const MAX_PART_HEAD: usize = 8 << 10;

/// The headers of one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartHead {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

/// A form being read.
#[derive(Debug)]
pub struct Form {
    payload: Payload,
    /// `\r\n--boundary`.
    delimiter: Vec<u8>,
    buffer: BytesMut,
    /// The current part's data has all been read.
    part_done: bool,
    /// The closing delimiter was seen.
    finished: bool,
}

fn malformed(what: &str) -> S3Error {
    S3Error::MalformedPostRequest(format!(
        "The body of your POST request is not well-formed multipart/form-data: {what}"
    ))
}

/// The `boundary` parameter of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

/// `name="value"` parameters of a header such as Content-Disposition (quotes may hold `;`).
fn parameters(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some((name, after)) = rest.split_once('=') {
        let name = name
            .rsplit(';')
            .next()
            .unwrap_or(name)
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(';') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.push((name, value.trim().to_owned()));
        rest = next;
    }
    out
}

impl Form {
    pub fn new(payload: Payload, content_type: &str) -> Result<Self, S3Error> {
        let boundary = boundary(content_type).ok_or_else(|| {
            S3Error::MalformedPostRequest(
                "Bucket POST must be of the enclosure-type multipart/form-data".into(),
            )
        })?;
        // The body starts with `--boundary`: a CRLF in front makes it an ordinary delimiter.
        let mut buffer = BytesMut::new();
        buffer.extend_from_slice(b"\r\n");
        Ok(Self {
            payload,
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            buffer,
            part_done: false,
            finished: false,
        })
    }

    /// Reads more of the body; `false` at its end.
    async fn fill(&mut self) -> Result<bool, S3Error> {
        match self.payload.next().await? {
            Some(data) => {
                self.buffer.extend_from_slice(&data);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The next piece of the current part's data; `None` at its end.
    pub async fn data(&mut self) -> Result<Option<Bytes>, S3Error> {
        loop {
            if self.part_done {
                return Ok(None);
            }
            if let Some(at) = find(&self.buffer, &self.delimiter) {
                let data = self.buffer.split_to(at).freeze();
                self.buffer.advance(self.delimiter.len());
                self.part_done = true;
                return Ok((!data.is_empty()).then_some(data));
            }
            // Keep what could be the start of a delimiter.
            let safe = self.buffer.len().saturating_sub(self.delimiter.len() - 1);
            if safe >= 64 << 10 {
                return Ok(Some(self.buffer.split_to(safe).freeze()));
            }
            if !self.fill().await? {
                return Err(malformed("the body ended inside a part"));
            }
        }
    }

    /// A text field's value, at most `max` bytes.
    pub async fn text(&mut self, max: usize) -> Result<String, S3Error> {
        let mut out = Vec::new();
        while let Some(data) = self.data().await? {
            if out.len() + data.len() > max {
                return Err(S3Error::MalformedPostRequest(
                    "a form field is too long".into(),
                ));
            }
            out.extend_from_slice(&data);
        }
        String::from_utf8(out).map_err(|_| malformed("a form field is not UTF-8"))
    }

    /// Moves to the next part (skipping what is left of the current one); `None` after the
    /// last part.
    pub async fn next_part(&mut self) -> Result<Option<PartHead>, S3Error> {
        if self.finished {
            return Ok(None);
        }
        while self.data().await?.is_some() {}
        while self.buffer.len() < 2 {
            if !self.fill().await? {
                return Err(malformed("the body ended after a delimiter"));
            }
        }
        if self.buffer.starts_with(b"--") {
            self.finished = true;
            return Ok(None);
        }
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at;
            }
            if self.buffer.len() > MAX_PART_HEAD {
                return Err(malformed("part headers too long"));
            }
            if !self.fill().await? {
                return Err(malformed("the body ended in part headers"));
            }
        };
        let head = self.buffer.split_to(head_end + 4);
        self.part_done = false;
        let text =
            std::str::from_utf8(&head).map_err(|_| malformed("part headers are not UTF-8"))?;
        let mut part = PartHead {
            name: String::new(),
            filename: None,
            content_type: None,
        };
        for line in text.split("\r\n").filter(|l| !l.trim().is_empty()) {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| malformed("bad part header"))?;
            match name.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for (param, value) in parameters(value) {
                        match param.as_str() {
                            "name" => part.name = value,
                            "filename" => part.filename = Some(value),
                            _ => {}
                        }
                    }
                }
                "content-type" => part.content_type = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        if part.name.is_empty() {
            return Err(malformed("a part without a name"));
        }
        Ok(Some(part))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(offset) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + offset;
        if haystack.get(at..at + needle.len()) == Some(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use hyper::body::Frame;
    use hyper::HeaderMap;

    use super::*;
    use crate::auth::PayloadCheck;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    /// A body delivered in pieces.
    struct Pieces(std::collections::VecDeque<Bytes>);

    impl hyper::body::Body for Pieces {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Ready(self.get_mut().0.pop_front().map(|d| Ok(Frame::data(d))))
        }
    }

    /// A payload delivered in pieces of `piece` bytes.
    fn payload(body: &[u8], piece: usize) -> Payload {
        let pieces = body.chunks(piece).map(Bytes::copy_from_slice).collect();
        Payload::new(
            Pieces(pieces),
            PayloadCheck::Unsigned,
            &HeaderMap::new(),
            1 << 30,
        )
        .unwrap()
    }

    fn body(file: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuser/${filename}\r\n",
        );
        b.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"acl\"\r\n\r\npublic-read\r\n",
        );
        b.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b.txt\"\r\nContent-Type: text/plain\r\n\r\n");
        b.extend_from_slice(file);
        b.extend_from_slice(b"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"submit\"\r\n\r\nUpload\r\n--XyZ--\r\n");
        b
    }

    async fn read(body: &[u8], piece: usize) -> (Vec<(String, String)>, PartHead, Vec<u8>) {
        let mut form = Form::new(payload(body, piece), CT).unwrap();
        let mut fields = Vec::new();
        loop {
            let part = form.next_part().await.unwrap().unwrap();
            if part.filename.is_some() {
                let mut data = Vec::new();
                while let Some(piece) = form.data().await.unwrap() {
                    data.extend_from_slice(&piece);
                }
                let rest = form.next_part().await.unwrap().unwrap();
                assert_eq!(rest.name, "submit");
                assert!(form.next_part().await.unwrap().is_none());
                return (fields, part, data);
            }
            fields.push((part.name.clone(), form.text(1024).await.unwrap()));
        }
    }

    #[tokio::test]
    async fn fields_and_file_in_pieces_of_any_size() {
        // The file holds a near-delimiter and CRLFs, to trap naive boundary searches.
        let file: Vec<u8> = b"line1\r\n--XyX\r\n--Xy"
            .iter()
            .copied()
            .chain((0..200_000u32).map(|i| (i % 256) as u8))
            .collect();
        for piece in [1, 3, 100, 70_000, 1 << 20] {
            let (fields, part, data) = read(&body(&file), piece).await;
            assert_eq!(
                fields,
                vec![
                    ("key".into(), "user/${filename}".into()),
                    ("acl".into(), "public-read".into())
                ]
            );
            assert_eq!(part.filename.as_deref(), Some("a;b.txt"));
            assert_eq!(part.content_type.as_deref(), Some("text/plain"));
            assert!(data == file, "piece {piece}");
        }
    }

    #[tokio::test]
    async fn broken_forms_are_refused() {
        assert!(Form::new(payload(b"", 10), "text/plain").is_err());
        let mut form = Form::new(
            payload(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nno end",
                10,
            ),
            CT,
        )
        .unwrap();
        form.next_part().await.unwrap();
        assert!(form.text(100).await.is_err());
    }

    #[test]
    fn boundaries_and_parameters() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("text/plain; boundary=x"), None);
        assert_eq!(
            parameters(" form-data; name=\"f\"; filename=\"x;y\""),
            vec![
                ("name".into(), "f".into()),
                ("filename".into(), "x;y".into())
            ]
        );
    }
}
