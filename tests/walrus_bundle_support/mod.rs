//! A running `euca walrus` for the bundle and SOAP tests: keys made by `euca keys init`, the
//! real binary on a free loopback port, the administrator's credentials, and a raw HTTP
//! client that signs S3 requests (signature version 2).

// Each test crate uses a different part of this module.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

pub use kit::time::{http_date, now};
use openssl::base64::encode_block;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;

pub use crate::common::launcher::Keys;
use crate::common::launcher::{euca, Component};

/// A running `euca walrus` with a DATA of its own, killed on drop.
pub struct Walrus {
    process: Component,
    /// `host:port`.
    pub addr: String,
    pub data: tempfile::TempDir,
}

impl Walrus {
    pub fn start(keys: &Keys, extra: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut command = euca();
        command
            .args(["walrus", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .arg("--keys")
            .arg(keys.path())
            .args(extra);
        let process = Component::start(command, "walrus")
            .unwrap_or_else(|log| panic!("walrus did not start:\n{log}"));
        Self {
            addr: process.authority().to_owned(),
            process,
            data,
        }
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// The administrator's access key and secret, from `DATA/admin-eucarc`.
    pub fn admin(&self) -> (String, String) {
        let text = std::fs::read_to_string(self.data.path().join("admin-eucarc")).unwrap();
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap()
                .trim_matches(|c| c == '\'' || c == '"')
                .to_owned()
        };
        (value("EC2_ACCESS_KEY"), value("EC2_SECRET_KEY"))
    }

    /// One HTTP/1.1 request; the status and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        parse_response(&response)
    }

    /// An S3 request signed with the administrator's key (signature version 2).
    pub fn s3(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let (access, secret) = self.admin();
        let date = http_date(now());
        let text = format!("{method}\n\n\n{date}\n{path}");
        let key = PKey::hmac(secret.as_bytes()).unwrap();
        let mut signer = Signer::new(MessageDigest::sha1(), &key).unwrap();
        signer.update(text.as_bytes()).unwrap();
        let signature = encode_block(&signer.sign_to_vec().unwrap());
        self.request(
            method,
            path,
            &[
                ("Date", date),
                ("Authorization", format!("AWS {access}:{signature}")),
            ],
            body,
        )
    }

    /// Uploads every file of `dir` into `bucket`.
    pub fn upload_dir(&self, bucket: &str, dir: &Path) {
        let (status, body) = self.s3("PUT", &format!("/services/Walrus/{bucket}"), b"");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            if name.contains(".part.") || name.ends_with(".manifest.xml") {
                let data = std::fs::read(&path).unwrap();
                let (status, body) =
                    self.s3("PUT", &format!("/services/Walrus/{bucket}/{name}"), &data);
                assert_eq!(status, 200, "{name}: {}", String::from_utf8_lossy(&body));
            }
        }
    }

    /// GetDecryptedImage as the original NC sends it: GET of the manifest with
    /// `EucaOperation`, an asctime `Date`, `EucaCert` and `EucaSignature` by `key`.
    pub fn get_decrypted_image(
        &self,
        path: &str,
        key: &PKey<Private>,
        cert: &Path,
        date: String,
    ) -> (u16, Vec<u8>) {
        let mut signer = Signer::new(MessageDigest::sha1(), key).unwrap();
        signer
            .update(format!("GET\n{date}\n{path}\n").as_bytes())
            .unwrap();
        let signature = encode_block(&signer.sign_to_vec().unwrap());
        self.request(
            "GET",
            path,
            &[
                ("Authorization", "Euca".into()),
                ("EucaOperation", "GetDecryptedImage".into()),
                ("Date", date),
                ("EucaCert", encode_block(&std::fs::read(cert).unwrap())),
                ("EucaSignature", signature),
            ],
            b"",
        )
    }
}

pub fn parse_response(raw: &[u8]) -> (u16, Vec<u8>) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap().trim(), 16)
            .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[line_end + 2 + size + 2..];
    }
}

/// asctime, as the original NC writes its `Date` (here in UTC): `Tue Nov 24 12:00:00 2026`.
/// Written here rather than taken from `kit::time`, which only parses it.
pub fn asctime(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = xmlbind::DateTime::from_unix(secs);
    let s = iso.as_str();
    let month = MONTHS[s[5..7].parse::<usize>().unwrap() - 1];
    let day: u32 = s[8..10].parse().unwrap();
    let weekday = DAYS[((secs / 86_400) % 7) as usize];
    format!("{weekday} {month} {day:>2} {} {}", &s[11..19], &s[..4])
}
