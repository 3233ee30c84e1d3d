//! Acceptance 4 of Walrus: signature, ACL and path attacks are refused with the right S3
//! codes (wrong, expired, skewed or tampered signatures; unknown and disabled keys; another
//! user's private objects; keys with `..`, NUL or invalid UTF-8; oversize metadata), quotas
//! hold, and the signature verifiers accept what real euca2ools versions sent, and nothing
//! with one byte changed.

#![allow(clippy::unwrap_used)]

mod common;
mod walrus_support;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::launcher::Keys;
use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;
use walrus::auth::{verify, PayloadCheck, RequestHead};
use walrus::S3Error;
use walrus_support::{add_users, admin_credentials, assert_success, files_under, Walrus};

#[test]
fn attacks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("walrus.conf");
    std::fs::write(
        &config,
        "storage_max_bucket_size_mb=1\nstorage_max_total_size_mb=6\nstorage_max_buckets_per_user=2\n\
         upload_rate_window_secs=2\n",
    )
    .unwrap();
    let walrus = Walrus::start(&data, &["--config", config.to_str().unwrap()]);

    // The CLC's view of the same user store: users added there are known to Walrus at once.
    let (admin_access, admin_secret) = admin_credentials(&data);
    let mut lines = format!("admin {admin_access} {admin_secret} admin@example.com\n");
    lines.push_str(&add_users(&data, &["alice", "bob", "carol"]));
    let store = users::UserStore::open(&data.join("users.sqlite")).unwrap();
    store.set_account_enabled("carol", false).unwrap();
    let users_file = dir.path().join("users");
    std::fs::write(&users_file, lines).unwrap();

    let args = [
        "--endpoint".to_owned(),
        walrus.url().to_owned(),
        "--users".to_owned(),
        users_file.display().to_string(),
    ];
    walrus.run_script("walrus_security.py", &args);

    // Whatever the keys, data lives only in blob files named by ids under DATA/blobs.
    for path in files_under(&data.join("blobs")) {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let dir = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit()),
            "blob file {path:?}"
        );
        assert_eq!(dir, name[..2], "blob directory of {path:?}");
    }
}

/// One recorded request.
#[derive(Debug, Default, Clone)]
struct Captured {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            map.append(
                HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }
}

/// Guards against secrets readable by other local users: a DATA that `euca walrus` creates
/// (with real keys, so the image cache is opened too), its eucarc and the user database with
/// its WAL files (every secret key) are their owner's only.
#[test]
fn a_new_data_directory_and_its_secrets_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let data = dir.path().join("new/data");
    let walrus = Walrus::start(&data, &["--keys", keys.path().to_str().unwrap()]);
    for (name, expected) in [
        ("..", 0o700),
        ("", 0o700),
        ("admin-eucarc", 0o600),
        ("users.sqlite", 0o600),
        ("users.sqlite-wal", 0o600),
        ("users.sqlite-shm", 0o600),
    ] {
        let mode = std::fs::metadata(data.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, expected, "mode of DATA/{name}");
    }
    assert!(data.join("image-cache").is_dir(), "{}", walrus.log());
}

/// Guards against private objects readable by any local user (issue 17, finding 3): given
/// DATA and KEYS folders that already exist with mode 0755 and a umask of 022, after start and
/// a PUT every file under DATA is 0600 and every folder 0700, and the log names the folders
/// it closed.
#[test]
fn existing_open_folders_are_closed_and_what_is_written_is_private() {
    const PUT: &str = r#"
import sys, boto3
from botocore.config import Config
endpoint, access, secret = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access,
    aws_secret_access_key=secret, region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
s3.create_bucket(Bucket="private")
s3.put_object(Bucket="private", Key="object", Body=b"secret " * 1000)
assert s3.get_object(Bucket="private", Key="object")["Body"].read() == b"secret " * 1000
"#;
    let dir = tempfile::tempdir().unwrap();
    let (data, keys) = (dir.path().join("data"), Keys::new());
    let keys = keys.path();
    std::fs::create_dir(&data).unwrap();
    for folder in [data.as_path(), keys] {
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let walrus = Walrus::start_with_umask(&data, &["--keys", keys.to_str().unwrap()], "022");
    let (access, secret) = admin_credentials(&data);
    let put = Command::new(common::python())
        .args(["-c", PUT, walrus.url(), &access, &secret])
        .output()
        .unwrap();
    assert_success(&put, "create a bucket and put an object");

    let log = walrus.log();
    for folder in [data.as_path(), keys] {
        assert!(
            log.contains(&format!("folder={}", folder.display()))
                && log.contains("folder open to group or others"),
            "no warning naming {}:\n{log}",
            folder.display()
        );
    }
    let mut checked = 0;
    let mut walk = vec![data.clone()];
    while let Some(folder) = walk.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let expected = if meta.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(
                meta.permissions().mode() & 0o777,
                expected,
                "{}",
                path.display()
            );
            if meta.is_dir() {
                walk.push(path);
            }
            checked += 1;
        }
    }
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(checked > 5, "only {checked} files and folders under DATA");
}

/// The requests of the capture files, read by Python (JSON) into a line format.
fn captures(reference: &std::path::Path) -> Vec<(String, Captured)> {
    const CONVERT: &str = r#"
import json, sys
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        target = r["path"]
        print("REQUEST", path.rsplit("/", 1)[-1], r["method"], target)
        for name, value in r["headers"].items():
            print("HEADER", name, value, sep="\t")
        try:
            body = r["body"].encode("latin-1")
        except UnicodeEncodeError:
            body = r["body"].encode("utf-8")
        print("BODY", body.hex())
"#;
    let dir = reference.join("captures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let output = Command::new(common::python())
        .arg("-c")
        .arg(CONVERT)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut out: Vec<(String, Captured)> = Vec::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        if let Some(rest) = line.strip_prefix("REQUEST ") {
            let mut fields = rest.splitn(3, ' ');
            let (file, method, target) = (
                fields.next().unwrap(),
                fields.next().unwrap(),
                fields.next().unwrap(),
            );
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            out.push((
                file.to_owned(),
                Captured {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    query: query.to_owned(),
                    ..Captured::default()
                },
            ));
        } else if let Some(rest) = line.strip_prefix("HEADER\t") {
            let (name, value) = rest.split_once('\t').unwrap();
            out.last_mut()
                .unwrap()
                .1
                .headers
                .push((name.to_owned(), value.to_owned()));
        } else if let Some(rest) = line.strip_prefix("BODY ") {
            let body = (0..rest.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&rest[i..i + 2], 16).unwrap())
                .collect();
            out.last_mut().unwrap().1.body = body;
        }
    }
    out
}

fn keys(access_key: &str) -> Result<Option<((), String)>, S3Error> {
    Ok((access_key == "AKIDEXAMPLE").then(|| ((), "secretkey".to_owned())))
}

/// When a captured request was made.
fn sent_at(request: &Captured) -> i64 {
    match request.header("X-Amz-Date") {
        Some(date) => walrus::time::parse_amz_date(date).unwrap(),
        None => walrus::time::parse_http_date(request.header("Date").unwrap()).unwrap(),
    }
}

/// Verifies a request as Walrus would, at time `now`.
fn check(request: &Captured, now: i64, service: &str) -> Result<PayloadCheck, S3Error> {
    let headers = request.header_map();
    let head = RequestHead {
        method: &request.method,
        path: &request.path,
        query: &request.query,
        headers: &headers,
        virtual_bucket: None,
        service_prefix: walrus::SERVICE_PATH,
    };
    verify(&head, &keys, now, service).map(|signed| signed.expect("the request is signed").payload)
}

/// The request with one byte changed in each part its signature covers: the method, the
/// path, the headers named in `signed`, and the query when `query_signed` (SigV2 signs only
/// sub-resources of the query, and neither the Host nor other headers).
fn tampered(request: &Captured, signed: &[&str], query_signed: bool) -> Vec<Captured> {
    let flip = |text: &str| -> String {
        let mut bytes = text.as_bytes().to_vec();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'1' { b'2' } else { b'1' };
        String::from_utf8(bytes).unwrap()
    };
    let mut variants = Vec::new();
    let mut path = request.clone();
    path.path = flip(&request.path);
    variants.push(path);
    let mut method = request.clone();
    method.method = if request.method == "GET" {
        "PUT".into()
    } else {
        "GET".into()
    };
    variants.push(method);
    for name in signed {
        if let Some(at) = request
            .headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            let mut changed = request.clone();
            changed.headers[at].1 = flip(&request.headers[at].1);
            variants.push(changed);
        }
    }
    if query_signed && !request.query.is_empty() {
        let mut query = request.clone();
        query.query = flip(&request.query);
        variants.push(query);
    }
    variants
}

/// The SignedHeaders of a SigV4 Authorization header.
fn signed_headers(authorization: &str) -> Vec<&str> {
    authorization
        .split(',')
        .find_map(|f| f.trim().strip_prefix("SignedHeaders="))
        .unwrap()
        .split(';')
        .collect()
}

#[test]
fn captured_euca2ools_requests_verify() {
    let Some(reference) = common::reference_dir() else {
        println!("skipped: no reference");
        return;
    };
    let mut checked: HashMap<(String, &str), usize> = HashMap::new();
    for (file, request) in captures(&reference) {
        let authorization = request
            .header("Authorization")
            .unwrap_or_default()
            .to_owned();
        if request.path.starts_with(walrus::SERVICE_PATH) {
            // S3: SigV2 over the path with the prefix (euca2ools 1.0) or without it (3.4.1).
            assert!(authorization.starts_with("AWS "), "{file}: {request:?}");
            let now = sent_at(&request);
            check(&request, now, "s3")
                .unwrap_or_else(|e| panic!("{file}: {} {}: {e}", request.method, request.path));
            let signed = ["Date", "Content-MD5", "Content-Type", "x-amz-acl"];
            for variant in tampered(&request, &signed, false) {
                assert!(
                    check(&variant, now, "s3").is_err(),
                    "{file}: accepted tampered {variant:?}"
                );
            }
            *checked.entry((file, "s3")).or_default() += 1;
        } else if authorization.starts_with("AWS4-HMAC-SHA256") {
            // EC2 Query requests signed with SigV4: the same verifier, for service ec2.
            let now = sent_at(&request);
            let payload = check(&request, now, "ec2").unwrap_or_else(|e| {
                panic!("{file}: {}: {e}", String::from_utf8_lossy(&request.body))
            });
            let PayloadCheck::Sha256(claimed) = payload else {
                panic!("{file}: the payload hash is signed")
            };
            assert_eq!(
                claimed,
                openssl::sha::sha256(&request.body),
                "{file}: body hash"
            );
            let mut body = request.body.clone();
            body[0] ^= 1;
            assert_ne!(
                claimed,
                openssl::sha::sha256(&body),
                "a changed body no longer matches"
            );
            for variant in tampered(&request, &signed_headers(&authorization), true) {
                assert!(
                    check(&variant, now, "ec2").is_err(),
                    "{file}: accepted tampered {variant:?}"
                );
            }
            *checked.entry((file, "ec2")).or_default() += 1;
        }
    }
    println!("verified: {checked:?}");
    let count =
        |file: &str, kind: &str| checked.get(&(file.to_owned(), kind)).copied().unwrap_or(0);
    assert_eq!(count("euca2ools-1.0_boto-1.8d.jsonl", "s3"), 5);
    assert_eq!(count("euca2ools-3.4.1_requestbuilder-0.7.1.jsonl", "s3"), 2);
    assert!(count("euca2ools-3.4.1_requestbuilder-0.7.1.jsonl", "ec2") > 20);
}
