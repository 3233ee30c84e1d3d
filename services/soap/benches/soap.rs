//! Cost of WS-Security on a hop, in one run (`cargo bench -p soap --bench soap`):
//!
//! 1. the cost of one bare RSA-2048 signature (SHA-1, as the hops sign), the unit that
//!    dominates a signed exchange, measured before and after the round trips;
//! 2. signed request/reply round trips per second over loopback, client and server in this
//!    process, several clients at once, and the server's CPU time per round trip;
//! 3. parse + verify (exclusive C14N, digests, RSA) throughput of our code beside
//!    python-xmlsec on the same signed envelopes;
//! 4. a per-phase profile of the server's side of one round trip (parse, C14N, digests and
//!    RSA of the request's verification; serialising, canonicalizing, digesting and signing
//!    the reply; those phases in sequence on one thread; an unsigned round trip, for HTTP,
//!    Tokio and the handler; what is left of the signed round trip's server CPU);
//! 5. the peak memory of parsing a 1 MB message of 50,000 small elements, and of one signed
//!    request, measured in a child process (its peak resident set).
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
use openssl::hash::hash;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use soap::c14n::exclusive_of;
use soap::envelope::{self, Addressing, BodyContent, Incoming, Outgoing, SoapVersion};
use soap::keys::KeyPair;
use soap::wss::{SignOptions, Verifier, VerifyOptions};
use soap::{HttpTransport, Security, Server};
use tokio::runtime::Runtime;
use xmlbind::{Base64Binary, ElementRef, XmlText};

const CLIENTS: usize = 8;
const ROUND_TRIP_SECONDS: u64 = 10;
const VERIFY_SECONDS: f64 = 4.0;
const ENVELOPES: usize = 200;
/// A request of a realistic size: the original messages carry a few hundred bytes of fields.
const PAYLOAD_BYTES: usize = 600;

fn main() {
    if let Some(job) = std::env::var_os(HEAP_JOB) {
        return heap_job(Path::new(&job));
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::shared();
    println!("WS-Security cost (RSA-2048, RSA-SHA1 signatures, SHA-1 digests, exclusive C14N)");

    // The reference is measured on either side of the round trips and averaged: the
    // machine's speed drifts by a few per cent over seconds, which a reference taken once,
    // before, would carry into the ratio.
    let before = bare_signature_cost(&keys.server.private_key);
    let trips = round_trips(keys, true);
    let after = bare_signature_cost(&keys.server.private_key);
    let sign = (before + after) / 2;
    println!(
        "bare RSA-2048 signature:        {:>9.1} µs CPU  ({:.0}/s on one core; {:.1} before the round trips, {:.1} after)",
        micros(sign),
        1.0 / sign.as_secs_f64(),
        micros(before),
        micros(after)
    );
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

    let unsigned = round_trips(keys, false);
    let phases = Phases::measure(keys, &messages);
    let parts = phases.verify_c14n + phases.verify_digests + phases.verify_rsa;
    let reply_signing = phases.reply_signed.saturating_sub(phases.reply_unsigned);
    let own = phases.parse + phases.verify + phases.reply_signed;
    println!("per-phase profile, server side of one round trip (µs CPU):");
    println!(
        "  parse request:                {:>9.1}",
        micros(phases.parse)
    );
    println!(
        "  verify request:               {:>9.1}  (C14N {:.1}, digests {:.1}, RSA verify {:.1}, checks {:.1})",
        micros(phases.verify),
        micros(phases.verify_c14n),
        micros(phases.verify_digests),
        micros(phases.verify_rsa),
        micros(phases.verify.saturating_sub(parts))
    );
    println!(
        "  serialise reply:              {:>9.1}",
        micros(phases.reply_unsigned)
    );
    println!(
        "  sign reply:                   {:>9.1}  (RSA sign {:.1}; Security header, C14N, digests, Signature {:.1})",
        micros(reply_signing),
        micros(sign),
        micros(reply_signing.saturating_sub(sign))
    );
    println!(
        "  the above in sequence:        {:>9.1}  (parse, verify and sign each message in turn; {:.1} measured apart)",
        micros(phases.in_sequence),
        micros(own)
    );
    println!(
        "  unsigned round trip:          {:>9.1}  (HTTP, Tokio, the handler, parsing and writing smaller envelopes)",
        micros(unsigned.server_cpu)
    );
    println!(
        "  the rest:                     {:>9.1}  (server CPU per round trip less the two lines above: the same work among the client's)",
        micros(
            trips
                .server_cpu
                .saturating_sub(phases.in_sequence + unsigned.server_cpu)
        )
    );

    let (message, elements) = large_message();
    let large = folder.join("large.xml");
    std::fs::write(&large, &message).unwrap();
    let heap = peak_parse_heap(&large, 1);
    println!(
        "peak heap parsing {:.1} MB of {elements} elements: {:.1} MB = {:.1}× the message ({:.0} bytes per node, {} nodes)",
        message.len() as f64 / 1e6,
        heap.peak as f64 / 1e6,
        heap.peak as f64 / message.len() as f64,
        heap.peak as f64 / heap.nodes as f64,
        heap.nodes
    );
    const COPIES: usize = 1000;
    let heap = peak_parse_heap(&folder.join("msg-0000.xml"), COPIES);
    println!(
        "heap of one parsed signed request of {} bytes: {:.1} KB ({:.0} bytes per node, {} nodes; {COPIES} kept at once)",
        messages[0].len(),
        heap.peak as f64 / 1e3,
        heap.peak as f64 / heap.nodes as f64,
        heap.nodes
    );
}

/// A message of 50,000 small elements, about 1 MB: the shape of a large describe reply.
fn large_message() -> (Vec<u8>, usize) {
    const ELEMENTS: usize = 50_000;
    let mut xml = format!(
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><ns1:items xmlns:ns1="{}">"#,
        http_support::NS
    );
    for i in 0..ELEMENTS {
        xml.push_str(&format!("<ns1:i>{i:06}</ns1:i>"));
    }
    xml.push_str("</ns1:items></soapenv:Body></soapenv:Envelope>");
    (xml.into_bytes(), ELEMENTS)
}

/// Set to `FILE:COPIES` in a child process of this benchmark: parse FILE COPIES times,
/// keeping every tree, and print the peak memory per copy and the nodes of one.
const HEAP_JOB: &str = "SOAP_BENCH_HEAP_JOB";

struct Heap {
    /// Bytes per parsed copy.
    peak: usize,
    nodes: usize,
}

/// Peak memory of parsing `file` `copies` times, per copy. Measured in a fresh child
/// process, as its peak resident set (`VmHWM`, reset once the file is read) less its resident
/// set before parsing: what the parser makes the process hold, allocator overhead included.
fn peak_parse_heap(file: &Path, copies: usize) -> Heap {
    let mut job = Command::new(std::env::current_exe().unwrap());
    job.env(HEAP_JOB, format!("{}:{copies}", file.display()));
    let stdout = stdout_of(job, "heap measurement");
    let mut fields = stdout
        .split_whitespace()
        .map(|f| f.parse::<usize>().unwrap());
    let (peak, nodes) = (fields.next().unwrap(), fields.next().unwrap());
    Heap { peak, nodes }
}

fn heap_job(job: &Path) {
    let job = job.to_str().unwrap();
    let (file, copies) = job.rsplit_once(':').unwrap();
    let copies: usize = copies.parse().unwrap();
    let message = std::fs::read(file).unwrap();
    let limits = xmlbind::Limits {
        max_nodes: usize::MAX,
        ..xmlbind::Limits::default()
    };
    // Resets VmHWM to the current resident set (Linux 4.0 and later).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kb("VmRSS:");
    let trees: Vec<Incoming> = (0..copies)
        .map(|_| Incoming::parse(&message, &limits).unwrap())
        .collect();
    let peak = status_kb("VmHWM:").saturating_sub(before) * 1024 / copies;
    println!("{peak} {}", trees[0].root().node_count());
}

/// A `/proc/self/status` figure in kB.
fn status_kb(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Mean CPU time of each phase of the server's side of a round trip, measured one at a time
/// on this thread over the benchmark's signed envelopes.
struct Phases {
    parse: Duration,
    verify: Duration,
    verify_c14n: Duration,
    verify_digests: Duration,
    verify_rsa: Duration,
    reply_unsigned: Duration,
    reply_signed: Duration,
    /// Parsing, verifying and signing a reply one message after another, replay cache off.
    in_sequence: Duration,
}

impl Phases {
    fn measure(keys: &Keys, messages: &[Vec<u8>]) -> Self {
        let limits = xmlbind::Limits::default();
        let parsed: Vec<Incoming> = messages
            .iter()
            .map(|m| Incoming::parse(m, &limits).unwrap())
            .collect();
        let parse = mean_cpu(messages, |m| {
            Incoming::parse(m, &limits).unwrap();
        });
        let trusted = std::slice::from_ref(&keys.client.certificate);
        let verify = {
            // The passes repeat the envelopes, so the replay cache is off here: it would
            // refuse them (its cost is in the parse + verify rate above).
            let options = VerifyOptions {
                replay_cache_size: 0,
                ..VerifyOptions::default()
            };
            let verifier = Verifier::new(trusted, options).unwrap();
            mean_cpu(&parsed, |incoming| {
                incoming.verify(Some(&verifier)).unwrap();
            })
        };
        let signed: Vec<SignedParts> = parsed.iter().map(SignedParts::of).collect();
        let verify_c14n = mean_cpu(&signed, |s| {
            for part in s.parts.iter().chain([&s.signed_info]) {
                exclusive_of(*part, &[]);
            }
        });
        let canonical: Vec<Vec<Vec<u8>>> = signed
            .iter()
            .map(|s| s.parts.iter().map(|p| exclusive_of(*p, &[])).collect())
            .collect();
        let verify_digests = mean_cpu(&canonical, |parts| {
            for part in parts {
                hash(MessageDigest::sha1(), part).unwrap();
            }
        });
        // As the verifier does it: the public-key operation, then a comparison of the whole
        // decrypted block with the encoded digest.
        let key = keys.client.certificate.public_key().unwrap().rsa().unwrap();
        let verify_rsa = mean_cpu(&signed, |s| {
            let canonical = exclusive_of(s.signed_info, &[]);
            let digest = hash(MessageDigest::sha1(), &canonical).unwrap();
            let mut decrypted = vec![0; key.size() as usize];
            let len = key
                .public_decrypt(&s.value, &mut decrypted, Padding::PKCS1)
                .unwrap();
            assert!(decrypted[..len].ends_with(&digest));
        })
        // Less SignedInfo's canonicalization, counted under C14N (about one part's share).
        .saturating_sub(verify_c14n / signed[0].parts.len().max(1) as u32);

        let signer = keys.server.signer(SignOptions::default()).unwrap();
        let reply = http_support::Echoed {
            text: "x".repeat(PAYLOAD_BYTES),
            soap_action: http_support::ECHO.soap_action.to_owned(),
            message_id: "urn:uuid:00000000-0000-4000-8000-000000000000".to_owned(),
            signer: "0".repeat(64),
        };
        // Addressed as the server addresses its replies to a request that used WS-Addressing.
        let outgoing = Outgoing {
            version: SoapVersion::V11,
            addressing: Addressing {
                to: None,
                action: Some(format!("{}Response", http_support::ECHO.soap_action)),
                message_id: Some("urn:uuid:00000000-0000-4000-8000-000000000001".to_owned()),
                relates_to: Some("urn:uuid:00000000-0000-4000-8000-000000000000".to_owned()),
            },
            body: BodyContent::Payload {
                namespace: http_support::NS,
                local: "EchoResponse",
                value: &reply,
            },
        };
        let replies = [&outgoing];
        let reply_unsigned = mean_cpu(&replies, |o| {
            envelope::write(o, None).unwrap();
        });
        let reply_signed = mean_cpu(&replies, |o| {
            envelope::write(o, Some(&signer)).unwrap();
        });
        let in_sequence = {
            let options = VerifyOptions {
                replay_cache_size: 0,
                ..VerifyOptions::default()
            };
            let verifier = Verifier::new(trusted, options).unwrap();
            mean_cpu(messages, |m| {
                let incoming = Incoming::parse(m, &limits).unwrap();
                incoming.verify(Some(&verifier)).unwrap();
                envelope::write(&outgoing, Some(&signer)).unwrap();
            })
        };
        Self {
            in_sequence,
            parse,
            verify,
            verify_c14n,
            verify_digests,
            verify_rsa,
            reply_unsigned,
            reply_signed,
        }
    }
}

/// The parts a request's signature covers (as our client signs: Timestamp, the addressing
/// headers and the Body), its SignedInfo and its value.
struct SignedParts<'a> {
    parts: Vec<ElementRef<'a>>,
    signed_info: ElementRef<'a>,
    value: Vec<u8>,
}

impl<'a> SignedParts<'a> {
    fn of(incoming: &'a Incoming) -> Self {
        let root = incoming.root();
        let mut parts = Vec::new();
        let mut pending = vec![root];
        while let Some(element) = pending.pop() {
            if element.attributes().any(|a| a.name.local == "Id")
                && element.name().local != "BinarySecurityToken"
            {
                parts.push(element);
            }
            pending.extend(element.elements());
        }
        let signature = root
            .elements()
            .next()
            .and_then(|header| header.elements().find(|e| e.name().local == "Security"))
            .and_then(|security| security.elements().find(|e| e.name().local == "Signature"))
            .unwrap();
        let signed_info = signature.elements().next().unwrap();
        let value = signature.elements().nth(1).unwrap().text().unwrap();
        Self {
            parts,
            signed_info,
            value: Base64Binary::from_text(&value).unwrap().0,
        }
    }
}

/// Mean CPU time of `run` over `items`, in passes until a second of CPU time has passed.
fn mean_cpu<T>(items: &[T], mut run: impl FnMut(&T)) -> Duration {
    let started = this_thread_cpu();
    let mut count = 0u32;
    while this_thread_cpu() - started < Duration::from_secs(1) {
        for item in items {
            run(item);
            count += 1;
        }
    }
    (this_thread_cpu() - started) / count.max(1)
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

/// Round trips of `CLIENTS` clients at once, signed or not (the latter measure what HTTP,
/// Tokio, the envelopes and the handler cost without WS-Security).
fn round_trips(keys: &Keys, signed: bool) -> RoundTrips {
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
    let security = |own: &KeyPair, peer: &KeyPair| {
        if signed {
            Security::signed(signer(own), trusting(peer))
        } else {
            Security::unsecured()
        }
    };
    let server_rt = runtime("soap-server");
    let client_rt = runtime("soap-client");

    let server = server_rt.block_on(async {
        Server::builder()
            .mount(
                PATH,
                EchoService::default(),
                security(&keys.server, &keys.client),
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
        HttpTransport::builder(url, security(&keys.client, &keys.server))
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
                        assert_eq!(echoed.signer.is_empty(), !signed);
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
    let mut bench = Command::new(python());
    bench
        .arg(script)
        .arg(folder)
        .arg(VERIFY_SECONDS.to_string());
    let stdout = stdout_of(bench, "python-xmlsec bench");
    // {"verified": N, "seconds": S, "per_second": R}
    let rate = stdout
        .rsplit("\"per_second\":")
        .next()
        .and_then(|r| r.trim().trim_end_matches('}').trim().parse().ok());
    rate.unwrap_or_else(|| panic!("unexpected python-xmlsec output: {stdout}"))
}

/// What `command` prints, asserting that it succeeded.
fn stdout_of(mut command: Command, what: &str) -> String {
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
