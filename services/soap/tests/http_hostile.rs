//! Hostile XML sent to a running server over a socket: each message is answered with a fault
//! (413 when it is too large) within a short time, the server's memory does not grow with the
//! attack, and the server goes on serving.
//!
//! This is the only test in its binary, so the process's resident memory is the server's plus
//! that of a client which streams every large message from one small buffer. Before each
//! attack the peak resident size is reset (`/proc/self/clear_refs`); after it, the peak may
//! exceed the resident size of before by no more than the server's body limit allows for.

#![allow(clippy::unwrap_used)]

mod hostile;
mod http_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_support::*;
use soap::envelope::{self, Addressing, BodyContent, Outgoing, SoapVersion};
use soap::wss::{SignOptions, Verifier, VerifyOptions};
use soap::{Security, Server};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The server's body limit, below the default so that the bound on memory is sharp.
const MAX_BYTES: usize = 1 << 20;
/// How much a refused attack may raise the peak resident size: reading a body of up to
/// `MAX_BYTES` (collected, then made contiguous), parsing what fits, and allocator slack.
/// Processing any of the attacks below would take tens of megabytes to gigabytes.
const MAX_GROWTH_KIB: u64 = 8 * (MAX_BYTES as u64 >> 10);
/// Generous for a debug build on a loaded two-core machine; every attack is refused early.
const QUICK: Duration = Duration::from_secs(2);
/// Each attack is repeated, so that memory kept per request would add up.
const ROUNDS: usize = 5;

/// How an attack is sent.
#[derive(Clone)]
enum Delivery {
    /// A whole message with its Content-Length.
    Whole(String),
    /// `chunk` again and again, chunked, up to `total` bytes or until the server answers.
    Stream { chunk: String, total: usize },
    /// Headers declaring `length` bytes, and no body.
    Declared { length: u64 },
}

struct Attack {
    name: &'static str,
    delivery: Delivery,
    status: u16,
    /// Text the fault string must contain.
    fault: &'static str,
}

/// A signed request with `inner` at the end of its Body and `prolog` before it all.
fn around_signed(prolog: &str, inner: &str) -> String {
    let client = Keys::shared()
        .client
        .signer(SignOptions::default())
        .unwrap();
    let outgoing = Outgoing {
        version: SoapVersion::V11,
        addressing: Addressing::default(),
        body: BodyContent::Payload {
            namespace: NS,
            local: "Echo",
            value: &Text("hostile".into()),
        },
    };
    let xml = String::from_utf8(envelope::write(&outgoing, Some(&client)).unwrap()).unwrap();
    let at = xml.find("</soapenv:Body>").unwrap();
    format!("{prolog}{}{inner}{}", &xml[..at], &xml[at..])
}

/// Each at most a little under `MAX_BYTES`.
fn attacks() -> Vec<Attack> {
    vec![
        Attack {
            name: "DOCTYPE with entity expansion (a billion laughs)",
            delivery: Delivery::Whole(around_signed(
                &hostile::billion_laughs_doctype(),
                hostile::LAUGHS,
            )),
            status: 500,
            fault: "document type declarations are not accepted",
        },
        Attack {
            name: "external entity",
            delivery: Delivery::Whole(around_signed(hostile::XXE_DOCTYPE, hostile::XXE)),
            status: 500,
            fault: "document type declarations are not accepted",
        },
        Attack {
            name: "oversize message, declared",
            delivery: Delivery::Declared { length: 4 << 30 },
            status: 413,
            fault: "exceeds the limit",
        },
        Attack {
            name: "oversize message, streamed",
            delivery: Delivery::Stream {
                chunk: "<x>".repeat(64 << 10),
                total: 256 << 20,
            },
            status: 413,
            fault: "exceeds the limit",
        },
        Attack {
            name: "deep nesting",
            delivery: Delivery::Whole(around_signed("", &hostile::nested(MAX_BYTES / 8))),
            status: 500,
            fault: "elements nested deeper than",
        },
        Attack {
            name: "attribute flood",
            delivery: Delivery::Whole(around_signed("", &hostile::attribute_flood(MAX_BYTES / 16))),
            status: 500,
            fault: "more attributes on an element",
        },
        Attack {
            name: "namespace-declaration flood",
            delivery: Delivery::Whole(around_signed("", &hostile::namespace_flood(2_000, 20_000))),
            status: 500,
            fault: "namespace bindings in scope",
        },
    ]
}

/// Sends one attack on a new connection and reads the answer, which must come within
/// `QUICK`.
async fn send(addr: SocketAddr, delivery: &Delivery) -> Result<RawResponse, String> {
    let task = tokio::spawn(answer(addr, delivery.clone()));
    let abort = task.abort_handle();
    let answered = tokio::time::timeout(QUICK, task).await;
    abort.abort();
    match answered {
        Ok(Ok(response)) => Ok(response),
        // The reader panicked: the server closed the connection without a whole answer.
        Ok(Err(_)) => Err("the connection closed without an answer".into()),
        Err(_) => Err(format!("no answer within {QUICK:?}")),
    }
}

async fn answer(addr: SocketAddr, delivery: Delivery) -> RawResponse {
    let stream = TcpStream::connect(addr).await.unwrap();
    let head = |framing: String| {
        format!(
            "POST {PATH} HTTP/1.1\r\nHost: test\r\nSOAPAction: \"Echo#Echo\"\r\n{framing}\r\n\r\n"
        )
    };
    match delivery {
        Delivery::Whole(body) => {
            let mut stream = stream;
            exchange(&mut stream, &post(PATH, "", &body)).await
        }
        Delivery::Declared { length } => {
            let mut stream = stream;
            exchange(
                &mut stream,
                head(format!("Content-Length: {length}")).as_bytes(),
            )
            .await
        }
        Delivery::Stream { chunk, total } => {
            let (mut reader, mut writer) = stream.into_split();
            let start = head("Transfer-Encoding: chunked".into());
            let chunk = format!("{:x}\r\n{chunk}\r\n", chunk.len());
            // The server may answer and close long before the whole stream is sent.
            let sending = tokio::spawn(async move {
                writer.write_all(start.as_bytes()).await?;
                let mut sent = 0;
                while sent < total {
                    writer.write_all(chunk.as_bytes()).await?;
                    sent += chunk.len();
                }
                writer.write_all(b"0\r\n\r\n").await
            });
            let response = read_response(&mut reader).await;
            sending.abort();
            response
        }
    }
}

/// Resident and peak resident size of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Makes the peak resident size start again from the current one.
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_are_refused_quickly_without_memory_growth() {
    let keys = Keys::shared();
    let verifier = Verifier::new(
        std::slice::from_ref(&keys.client.certificate),
        VerifyOptions::default(),
    )
    .unwrap();
    let security = Security::signed(
        Arc::new(keys.server.signer(SignOptions::default()).unwrap()),
        Arc::new(verifier),
    );
    let limits = xmlbind::Limits {
        max_bytes: MAX_BYTES,
        ..xmlbind::Limits::default()
    };
    let server = Running::start(Server::builder().limits(limits).mount(
        PATH,
        EchoService::default(),
        security,
    ))
    .await;
    let client_security = Security::signed(
        Arc::new(keys.client.signer(SignOptions::default()).unwrap()),
        Arc::new(
            Verifier::new(
                std::slice::from_ref(&keys.server.certificate),
                VerifyOptions::default(),
            )
            .unwrap(),
        ),
    );
    let client = transport(&server.url(), client_security);
    echo(&client, "before").await.unwrap();

    let mut failures = Vec::new();
    for attack in &attacks() {
        reset_peak();
        let (before, _) = memory_kib();
        for _ in 0..ROUNDS {
            let response = match send(server.addr, &attack.delivery).await {
                Ok(response) => response,
                Err(e) => {
                    failures.push(format!("{}: {e}", attack.name));
                    continue;
                }
            };
            let (_, fault) = response.fault();
            if response.status != attack.status || !fault.contains(attack.fault) {
                failures.push(format!(
                    "{}: HTTP {} {fault:?}, expected {} {:?}",
                    attack.name, response.status, attack.status, attack.fault
                ));
            }
        }
        let (after, peak) = memory_kib();
        if peak.saturating_sub(before) > MAX_GROWTH_KIB {
            failures.push(format!(
                "{}: peak resident size rose by {} KiB (from {before} KiB; {after} KiB after)",
                attack.name,
                peak - before
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Still serving.
    assert_eq!(echo(&client, "after").await.unwrap().text, "after");
}
