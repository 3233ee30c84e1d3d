//! What the cloud controller's tests share: starting `euca cloud`, running `euca admin`,
//! and running a Python client script of `tests/py` that must succeed. Each test binary
//! uses a part of it.
//!
//! The store engine is one switch for every CLC test: `EUCA_TEST_STORE=postgres` makes
//! each cloud a test starts keep its state in a new database of the test process's own
//! PostgreSQL server (`pgtest`), given as `--db` on its first start; later starts on the
//! same DATA find the database DATA recorded, as `euca admin` does. Unset, or `sqlite`:
//! SQLite files in DATA. `scripts/test.sh` runs the CLC tests both ways.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use crate::common;
use crate::common::launcher::{euca, Component};

/// Our EC2 WSDL (`wsdl/ec2_2009-04-04.wsdl`), which zeep loads to speak SOAP to the CLC.
pub fn ec2_wsdl() -> String {
    common::workspace_root()
        .join("wsdl/ec2_2009-04-04.wsdl")
        .display()
        .to_string()
}

/// The policy document `name` of `tests/fixtures/policy`.
pub fn policy_fixture(name: &str) -> String {
    common::workspace_root()
        .join("tests/fixtures/policy")
        .join(name)
        .display()
        .to_string()
}

/// A new IAM user of `account` with a key: its access key and secret.
pub fn iam_user(data: &Path, account: &str, name: &str) -> (String, String) {
    admin(data, &["user", "add", "--account", account, name]);
    let out = admin(data, &["key", "add", "--account", account, "--user", name]);
    let mut fields = out.split_whitespace();
    let (access, secret) = (fields.next().unwrap(), fields.next().unwrap());
    (access.to_owned(), secret.to_owned())
}

/// Puts the policy document `file` of `tests/fixtures/policy` as `name` on `holder`
/// (`--user` or `--group`) `who` of `account`.
pub fn put_policy(data: &Path, account: &str, holder: &str, who: &str, name: &str, file: &str) {
    admin(
        data,
        &[
            "policy",
            "put",
            "--account",
            account,
            holder,
            who,
            name,
            "--file",
            &policy_fixture(file),
        ],
    );
}

/// A new IAM user of `account` with a key, allowed every EC2 and S3 action (a non-root
/// user may otherwise do nothing): its access key and secret.
pub fn iam_user_allowed_all(data: &Path, account: &str, name: &str) -> (String, String) {
    let keys = iam_user(data, account, name);
    put_policy(data, account, "--user", name, "all", "everything.json");
    keys
}

/// Starts `euca cloud` on a free loopback port with `extra` arguments.
pub fn start_cloud(keys: &Path, data: &Path, extra: &[&str]) -> Component {
    start_cloud_at("127.0.0.1:0", keys, data, extra)
}

/// Starts `euca cloud` again on the address its eucarc files name (`EC2_URL`).
pub fn restart_cloud(keys: &Path, data: &Path, extra: &[&str]) -> Component {
    let eucarc = std::fs::read_to_string(data.join("credentials/admin/eucarc")).unwrap();
    let url = eucarc
        .lines()
        .find_map(|l| l.strip_prefix("export EC2_URL=http://"))
        .unwrap();
    let listen = url.split('/').next().unwrap();
    start_cloud_at(listen, keys, data, extra)
}

/// Where the clouds of this test run keep their state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine `EUCA_TEST_STORE` names (`sqlite`, the default, or `postgres`).
    pub fn from_env() -> Self {
        match std::env::var("EUCA_TEST_STORE").as_deref() {
            Err(_) | Ok("" | "sqlite") => Self::Sqlite,
            Ok("postgres") => Self::Postgres,
            Ok(other) => panic!("EUCA_TEST_STORE={other:?}: use sqlite or postgres"),
        }
    }
}

/// A new database on this test process's PostgreSQL server, as the URL `--db` takes; `None`
/// (with a `skipped:` line) when PostgreSQL is not installed.
pub fn new_database() -> Option<String> {
    pgtest::database()
        .inspect_err(|skip| println!("skipped: {skip}"))
        .ok()
}

/// Starts `euca cloud` on a free loopback port with `extra` arguments, its state in a new
/// PostgreSQL database whatever `EUCA_TEST_STORE` says; the database's URL with it, or
/// `None` when PostgreSQL is not installed.
pub fn start_cloud_on_postgres(
    keys: &Path,
    data: &Path,
    extra: &[&str],
) -> Option<(Component, String)> {
    let url = new_database()?;
    let mut args = vec!["--db", &url];
    args.extend_from_slice(extra);
    Some((start_cloud_at("127.0.0.1:0", keys, data, &args), url))
}

fn start_cloud_at(listen: &str, keys: &Path, data: &Path, extra: &[&str]) -> Component {
    let mut command = euca();
    command
        .args(["cloud", "--listen", listen, "--keys"])
        .arg(keys)
        .arg("--data")
        .arg(data)
        .args(extra);
    let first_start = !data.join(users::DATABASE_URL_FILE).exists() && !extra.contains(&"--db");
    if first_start && Engine::from_env() == Engine::Postgres {
        let url = pgtest::database()
            .unwrap_or_else(|skip| panic!("EUCA_TEST_STORE=postgres, but {skip}"));
        command.args(["--db", &url]);
    }
    Component::start(command, "cloud controller")
        .unwrap_or_else(|log| panic!("euca cloud did not become ready:\n{log}"))
}

/// The admin console's URL (`https://127.0.0.1:PORT/`), from the line the cloud logged.
pub fn console_url(cloud: &Component) -> String {
    let log = cloud.log();
    log.lines()
        .find_map(|l| l.split_once("console ready at ").map(|(_, url)| url.trim()))
        .unwrap_or_else(|| panic!("the cloud logged no console URL:\n{log}"))
        .to_owned()
}

/// The administrator's first console password, as the cloud wrote it to DATA.
pub fn console_password(data: &Path) -> String {
    std::fs::read_to_string(data.join("credentials/admin/console-password"))
        .unwrap()
        .trim()
        .to_owned()
}

/// The cloud's certificate, which issued the console's: what clients verify it against.
pub fn cloud_cert(keys: &Path) -> String {
    keys.join("cloud-cert.pem").display().to_string()
}

/// Hands `add` the fixture manifests of `tests/fixtures/cloud` with the paths a stand-in
/// Walrus serves them at: `/services/Walrus/images/{machine,kernel,ramdisk}.manifest.xml`
/// (the nodes fetch the same URLs as the images' files).
pub fn serve_manifests(mut add: impl FnMut(&str, Vec<u8>)) {
    for (path, manifest) in manifests(&["machine", "kernel", "ramdisk"]) {
        add(&path, manifest);
    }
}

/// Runs `euca admin --data DATA ARGS...`; returns its standard output.
pub fn admin(data: &Path, args: &[&str]) -> String {
    let out = admin_run(data, args);
    assert!(out.status.success(), "euca admin {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `euca admin --data DATA ARGS...`, whatever its outcome.
pub fn admin_run(data: &Path, args: &[&str]) -> std::process::Output {
    euca()
        .arg("admin")
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

/// The 12-digit id of the account `name` (EC2's owner id of its resources), as
/// `euca admin account list` shows it.
pub fn account_id(data: &Path, name: &str) -> String {
    let accounts = admin(data, &["account", "list"]);
    accounts
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}\t")))
        .and_then(|rest| rest.split('\t').next())
        .unwrap_or_else(|| panic!("no account {name} in:\n{accounts}"))
        .to_owned()
}

/// Runs `tests/py/SCRIPT ARGS...`, which must succeed; returns its standard output.
pub fn python(script: &str, args: &[&str]) -> String {
    python_by(Command::new(common::python()), script, args)
}

/// [`python`] run by `interpreter`, a command that runs Python (on another host, say).
pub fn python_by(mut interpreter: Command, script: &str, args: &[&str]) -> String {
    interpreter
        .arg(common::workspace_root().join("tests/py").join(script))
        .args(args);
    common::succeeds(interpreter, &format!("{script} {args:?}"))
}

/// The fixture manifests of `tests/fixtures/cloud` (`NAME.manifest.xml`) for `names`, each
/// as the path Walrus serves it at (`/services/Walrus/images/NAME.manifest.xml`) and its
/// bytes.
pub fn manifests(names: &[&str]) -> Vec<(String, Vec<u8>)> {
    let fixtures = common::workspace_root().join("tests/fixtures/cloud");
    names
        .iter()
        .map(|name| {
            let file = format!("{name}.manifest.xml");
            let bytes = std::fs::read(fixtures.join(&file)).unwrap();
            (format!("/services/Walrus/images/{file}"), bytes)
        })
        .collect()
}

/// `qemu-io` running `command` (`write -P 0x5a OFFSET LENGTH`, `read -P ...`) on the block
/// export `device` (`nbd://...`, `iscsi://...`); true when it succeeded (a `read -P` fails
/// when the bytes are not the pattern).
pub fn qemu_io(device: &str, command: &str) -> bool {
    let out = Command::new("qemu-io")
        .args(["-f", "raw", "-c", command, device])
        .output()
        .expect("qemu-io runs (apt-get install qemu-utils)");
    let (text, errors) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!("qemu-io {command} {device}: {text}{errors}");
    out.status.success() && !text.contains("failed")
}
