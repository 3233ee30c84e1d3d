//! Cost of WS-Security on a hop, in one run (`cargo bench -p soap --bench soap`):
//!
//! 1. the cost of one bare RSA-2048 signature (SHA-1, as the hops sign), the unit that
//!    dominates a signed exchange;
//! 2. signed request/reply round trips per second over loopback, client and server in this
//!    process, several clients at once, and the server's CPU time per round trip;
//! 3. parse + verify (exclusive C14N, digests, RSA) throughput of our code beside
//!    python-xmlsec on the same signed envelopes.
//!
//! CPU times are read per thread from `/proc/self/task/*/schedstat` (nanoseconds on CPU):
//! for the round trips, of the threads of the server's own Tokio runtime (`soap-server`), so
//! that the clients' work in the same process is not counted, and of the clients' runtime
//! (`soap-client`). The signature cost and both verify rates are per CPU second too
//! (python's `time.process_time`), so other load on the machine does not skew the ratios;
//! only the round trips per second are wall-clock figures.

#![allow(clippy::unwrap_used)]

#[path = "../tests/http_support/mod.rs"]
mod http_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_support::{echo, EchoService, Keys, PATH};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use soap::envelope::{self, Addressing, BodyContent, Incoming, Outgoing, SoapVersion};
use soap::keys::KeyPair;
use soap::wss::{SignOptions, Verifier, VerifyOptions};
use soap::{HttpTransport, Security, Server};
use tokio::runtime::Runtime;

const CLIENTS: usize = 8;
const ROUND_TRIP_SECONDS: u64 = 6;
const VERIFY_SECONDS: f64 = 4.0;
const ENVELOPES: usize = 200;
/// A request of a realistic size: the original messages carry a few hundred bytes of fields.
const PAYLOAD_BYTES: usize = 600;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::shared();
    println!("WS-Security cost (RSA-2048, RSA-SHA1 signatures, SHA-1 digests, exclusive C14N)");

    let sign = bare_signature_cost(&keys.server.private_key);
    println!(
        "bare RSA-2048 signature:        {:>9.1} µs CPU  ({:.0}/s on one core)",
        micros(sign),
        1.0 / sign.as_secs_f64()
    );

    let trips = round_trips(keys);
    println!(
        "signed round trips:             {:>9.0} /s  ({CLIENTS} concurrent clients, {:.1} s, client and server in-process)",
        trips.per_second, trips.seconds
    );
    println!(
        "server CPU per round trip:      {:>9.1} µs CPU  = {:.2} bare signatures (verify request + handler + sign reply)",
        micros(trips.server_cpu),
        trips.server_cpu.as_secs_f64() / sign.as_secs_f64()
    );
    println!(
        "client CPU per round trip:      {:>9.1} µs CPU  = {:.2} bare signatures (sign request + verify reply)",
        micros(trips.client_cpu),
        trips.client_cpu.as_secs_f64() / sign.as_secs_f64()
    );

    let folder = dir.path().join("envelopes");
    let messages = write_envelopes(&keys.client, &folder);
    let ours = our_verify_rate(&keys.client, &messages);
    let python = python_verify_rate(&folder);
    println!(
        "parse + verify, ours:           {:>9.0} envelopes per CPU second  (all WS-Security checks: wrapping, Timestamp, replay)",
        ours
    );
    println!("parse + verify, python-xmlsec:  {python:>9.0} envelopes per CPU second  (lxml parse, xmlsec signature verification)");
    println!("ours / python-xmlsec:           {:>9.2}", ours / python);
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Mean CPU time of one RSA-SHA1 signature over 500 bytes, the size of a canonical SignedInfo.
fn bare_signature_cost(key: &PKey<Private>) -> Duration {
    let data = [b'x'; 500];
    let sign = || {
        openssl::sign::Signer::new(MessageDigest::sha1(), key)
            .unwrap()
            .sign_oneshot_to_vec(&data)
            .unwrap()
    };
    for _ in 0..20 {
        sign();
    }
    let (started, cpu) = (Instant::now(), this_thread_cpu());
    let mut count = 0u32;
    while started.elapsed() < Duration::from_secs(2) {
        sign();
        count += 1;
    }
    (this_thread_cpu() - cpu) / count
}

struct RoundTrips {
    per_second: f64,
    seconds: f64,
    server_cpu: Duration,
    client_cpu: Duration,
}

fn runtime(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

fn round_trips(keys: &Keys) -> RoundTrips {
    let signer = |pair: &KeyPair| Arc::new(pair.signer(SignOptions::default()).unwrap());
    let trusting = |pair: &KeyPair| {
        Arc::new(
            Verifier::new(
                std::slice::from_ref(&pair.certificate),
                VerifyOptions::default(),
            )
            .unwrap(),
        )
    };
    let server_rt = runtime("soap-server");
    let client_rt = runtime("soap-client");

    let server = server_rt.block_on(async {
        Server::builder()
            .mount(
                PATH,
                EchoService::default(),
                Security::signed(signer(&keys.server), trusting(&keys.client)),
            )
            .bind("127.0.0.1:0")
            .await
            .unwrap()
    });
    let url = format!("http://{}{PATH}", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = server_rt.spawn(server.run(async {
        let _ = stopped.await;
    }));

    let client = Arc::new(
        HttpTransport::builder(
            url,
            Security::signed(signer(&keys.client), trusting(&keys.server)),
        )
        .build()
        .unwrap(),
    );
    let text = "x".repeat(PAYLOAD_BYTES);
    client_rt.block_on(async {
        for _ in 0..20 {
            echo(&client, &text).await.unwrap();
        }
    });

    let done = Arc::new(AtomicU64::new(0));
    let (server_before, client_before) = (thread_cpu("soap-server"), thread_cpu("soap-client"));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(ROUND_TRIP_SECONDS);
    client_rt.block_on(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (client, done, text) = (client.clone(), done.clone(), text.clone());
                tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let echoed = echo(&client, &text).await.unwrap();
                        assert!(!echoed.signer.is_empty());
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    let (server_after, client_after) = (thread_cpu("soap-server"), thread_cpu("soap-client"));
    let count = done.load(Ordering::Relaxed);

    let _ = stop.send(());
    server_rt.block_on(serving).unwrap();
    let per_trip = |ns: u64| Duration::from_nanos(ns / count.max(1));
    RoundTrips {
        per_second: count as f64 / seconds,
        seconds,
        server_cpu: per_trip(server_after - server_before),
        client_cpu: per_trip(client_after - client_before),
    }
}

/// Nanoseconds on CPU of this process's threads whose name starts with `prefix`.
fn thread_cpu(prefix: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with(prefix) {
            total += schedstat_ns(&task.path().join("schedstat"));
        }
    }
    total
}

/// CPU time of the calling thread so far.
fn this_thread_cpu() -> Duration {
    Duration::from_nanos(schedstat_ns(Path::new("/proc/thread-self/schedstat")))
}

/// The first field of a `schedstat` file: nanoseconds spent on a CPU.
fn schedstat_ns(path: &Path) -> u64 {
    let schedstat = std::fs::read_to_string(path).unwrap_or_default();
    schedstat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Signed requests as our client sends them, written to `folder` with the signer's
/// certificate for python-xmlsec.
fn write_envelopes(signer_pair: &KeyPair, folder: &Path) -> Vec<Vec<u8>> {
    std::fs::create_dir_all(folder).unwrap();
    std::fs::write(
        folder.join("cert.pem"),
        signer_pair.certificate.to_pem().unwrap(),
    )
    .unwrap();
    let signer = signer_pair.signer(SignOptions::default()).unwrap();
    let text = http_support::Text("x".repeat(PAYLOAD_BYTES));
    (0..ENVELOPES)
        .map(|i| {
            let outgoing = Outgoing {
                version: SoapVersion::V11,
                addressing: Addressing {
                    to: Some(format!("http://127.0.0.1:8775{PATH}")),
                    action: Some(http_support::ECHO.soap_action.to_owned()),
                    message_id: Some(format!("urn:uuid:00000000-0000-4000-8000-{i:012}")),
                    relates_to: None,
                },
                body: BodyContent::Payload {
                    namespace: http_support::NS,
                    local: "Echo",
                    value: &text,
                },
            };
            let bytes = envelope::write(&outgoing, Some(&signer)).unwrap();
            std::fs::write(folder.join(format!("msg-{i:04}.xml")), &bytes).unwrap();
            bytes
        })
        .collect()
}

/// Envelopes per CPU second through `Incoming::parse` and `verify`, in passes over all of
/// them; each pass has a fresh verifier, since a verifier refuses a message it has seen.
fn our_verify_rate(signer_pair: &KeyPair, messages: &[Vec<u8>]) -> f64 {
    let limits = xmlbind::Limits::default();
    let mut verified = 0u64;
    let started = this_thread_cpu();
    while (this_thread_cpu() - started).as_secs_f64() < VERIFY_SECONDS {
        let trusted = std::slice::from_ref(&signer_pair.certificate);
        let verifier = Verifier::new(trusted, VerifyOptions::default()).unwrap();
        for bytes in messages {
            let incoming = Incoming::parse(bytes, &limits).unwrap();
            let checked = incoming.verify(Some(&verifier)).unwrap();
            assert!(checked.body_signed);
            verified += 1;
        }
    }
    verified as f64 / (this_thread_cpu() - started).as_secs_f64()
}

fn python() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = std::env::var_os("EUCA_PYTHON")
        .map_or_else(|| workspace.join(".venv/bin/python"), PathBuf::from);
    assert!(
        path.exists(),
        "python-xmlsec not found at {}: run scripts/setup.sh",
        path.display()
    );
    path
}

fn python_verify_rate(folder: &Path) -> f64 {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/py/xmlsec_verify_bench.py");
    let out = Command::new(python())
        .arg(script)
        .arg(folder)
        .arg(VERIFY_SECONDS.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python-xmlsec bench failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    // {"verified": N, "seconds": S, "per_second": R}
    let rate = stdout
        .rsplit("\"per_second\":")
        .next()
        .and_then(|r| r.trim().trim_end_matches('}').trim().parse().ok());
    rate.unwrap_or_else(|| panic!("unexpected python-xmlsec output: {stdout}"))
}
