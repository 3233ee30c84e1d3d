//! Issue 17, finding 4: a flood of 64 concurrent 15 MB unsigned messages, half with a declared
//! length and half chunked, against `euca node`. Each is refused without being held whole
//! (the node reads no request over its 1 MiB limit), the node's resident size peaks under
//! 100 MB and returns to within 20 % of idle, and a signed request is answered afterwards.

#![allow(clippy::unwrap_used)]

mod common;
mod node_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use node_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MESSAGES: usize = 64;
const MESSAGE_BYTES: usize = 15 << 20;

/// Resident and peak resident size of process `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sends one unsigned 15 MB message; the HTTP status the node answered, or `None` when it
/// closed the connection before answering (it need not read what it refuses).
async fn flood_one(
    authority: String,
    path: String,
    body: Arc<Vec<u8>>,
    chunked: bool,
) -> Option<u16> {
    let stream = TcpStream::connect(&authority).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: text/xml; charset=utf-8\r\n\
         SOAPAction: \"EucalyptusNC#ncDescribeResource\"\r\n{framing}\r\n\r\n"
    );
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for chunk in body.chunks(64 << 10) {
            if chunked {
                writer
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                writer.write_all(chunk).await?;
                writer.write_all(b"\r\n").await?;
            } else {
                writer.write_all(chunk).await?;
            }
        }
        if chunked {
            writer.write_all(b"0\r\n\r\n").await?;
        }
        std::io::Result::Ok(())
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    sending.abort();
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).and_then(|s| s.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_large_unsigned_messages_leaves_the_node_small() {
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let nc = NcSetup::test_driver(&keys, data.path()).start();
    let client = nc.client(&keys);
    // Idle is a node that has served its cluster for a while, not one just started.
    for _ in 0..8 {
        resources(&client).await;
    }
    let pid = nc.pid();
    let (idle, _) = memory_kib(pid);

    let rest = nc.url().strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    // One envelope-looking body shared by every sender, so the test itself stays small.
    let mut body = b"<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>".to_vec();
    body.resize(MESSAGE_BYTES, b' ');
    let body = Arc::new(body);
    let senders: Vec<_> = (0..MESSAGES)
        .map(|i| {
            tokio::spawn(flood_one(
                authority.to_owned(),
                path.to_owned(),
                body.clone(),
                i % 2 == 1,
            ))
        })
        .collect();
    let mut answers = Vec::new();
    for sender in senders {
        answers.push(sender.await.unwrap());
    }
    let (_, peak) = memory_kib(pid);

    // Every message was refused: too large, or cut off.
    let accepted: Vec<_> = answers
        .iter()
        .filter(|a| !matches!(a, Some(413) | None))
        .collect();
    assert!(accepted.is_empty(), "answers other than 413: {accepted:?}");
    assert!(
        answers.contains(&Some(413)),
        "no message was answered 413: {answers:?}"
    );
    println!(
        "node resident size: idle {} MB, flood peak {} MB",
        idle / 1024,
        peak / 1024
    );
    assert!(peak < 100 * 1024, "peak {peak} KiB; idle {idle} KiB");

    // The node gives the memory back and still serves its cluster.
    let settled = Instant::now();
    let after = loop {
        let (rss, _) = memory_kib(pid);
        if rss * 10 <= idle * 12 || settled.elapsed() > Duration::from_secs(10) {
            break rss;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("node resident size after the flood: {} MB", after / 1024);
    assert!(
        after * 10 <= idle * 12,
        "after {after} KiB; idle {idle} KiB"
    );
    resources(&client).await;
}
