//! Accounts, users and access keys against the real `euca cloud`, a cluster with a test-driver
//! node and a real Walrus serving the cloud's users (`--identity`), driven by boto3
//! (`tests/py/cloud_identity.py`): an account's root user and an IAM user with a key made by
//! `euca admin key add` share the account's resources, a second account sees none of them,
//! and a disabled key or account is refused. A cloud whose users were kept in the schema
//! before accounts still serves the eucarc files its users hold. On SQLite and, with
//! `EUCA_TEST_STORE=postgres`, on PostgreSQL.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod node_support;
mod walrus_support;

use std::path::Path;
use std::process::Command;

use cloud_support::{
    account_id, admin, iam_user_allowed_all, new_database, python, start_cloud, Engine,
};
use cluster_support::{Cc, Nodes};
use common::launcher::Keys;
use node_support::Served;
use walrus_support::Walrus;

#[test]
fn an_accounts_users_share_its_resources_and_keys_and_accounts_are_refused_when_disabled() {
    let nodes = Nodes::start(1);
    cloud_support::serve_manifests(|path, manifest| nodes.images.add(path, Served::File(manifest)));
    let dir = tempfile::tempdir().unwrap();
    let cc = Cc::start(&nodes, &dir.path().join("cc"), "ROUNDROBIN", &[]);
    let data = dir.path().join("clc");
    let _cloud = start_cloud(
        nodes.keys.path(),
        &data,
        &[
            "--cluster",
            &format!("zone1={}", cc.url()),
            "--walrus",
            &nodes.images.url("/services/Walrus"),
        ],
    );
    let clc_data = data.display().to_string();
    let walrus = Walrus::start(&dir.path().join("walrus"), &["--identity", &clc_data]);

    let eucarc = admin(&data, &["account", "add", "acme"]);
    assert_eq!(
        eucarc.trim(),
        data.join("credentials/acme/eucarc").display().to_string()
    );
    let (dev_key, dev_secret) = iam_user_allowed_all(&data, "acme", "dev");
    admin(&data, &["user", "add", "other"]);
    let account_id = account_id(&data, "acme");
    let users = admin(&data, &["user", "list", "--account", "acme"]);
    assert!(
        users.contains("acme\tadmin\t") && users.contains(&format!("acme\tdev\t{dev_key}\t")),
        "{users}"
    );

    let creds = data.join("credentials");
    let (root_dir, other_dir) = (
        creds.join("acme").display().to_string(),
        creds.join("other").display().to_string(),
    );
    let s3 = walrus.url();
    python(
        "cloud_identity.py",
        &[
            "share",
            &root_dir,
            &dev_key,
            &dev_secret,
            &other_dir,
            s3,
            &account_id,
        ],
    );

    let dev = ["--account", "acme", "--user", "dev"];
    let keys = admin(&data, &[&["key", "list"][..], &dev].concat());
    assert_eq!(keys.lines().count(), 1, "{keys}");
    assert!(keys.starts_with(&format!("{dev_key}\tactive\t")), "{keys}");
    let as_dev = |expected: &[&str]| {
        python(
            "cloud_identity.py",
            &[
                &[expected[0], &root_dir, &dev_key, &dev_secret, s3],
                &expected[1..],
            ]
            .concat(),
        )
    };
    let (refused, accepted) = (&["refused", "AuthFailure"][..], &["accepted"][..]);
    admin(
        &data,
        &[&["key", "disable"][..], &dev, &[&dev_key]].concat(),
    );
    as_dev(refused);
    admin(&data, &[&["key", "enable"][..], &dev, &[&dev_key]].concat());
    as_dev(accepted);

    // A disabled account refuses its root user and its IAM users, whatever their keys.
    let root_env = std::fs::read_to_string(creds.join("acme/eucarc")).unwrap();
    let variable = |name: &str| {
        root_env
            .lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}='")))
            .and_then(|v| v.strip_suffix('\''))
            .unwrap()
            .to_owned()
    };
    let (root_key, root_secret) = (variable("EC2_ACCESS_KEY"), variable("EC2_SECRET_KEY"));
    admin(&data, &["account", "disable", "acme"]);
    as_dev(refused);
    python(
        "cloud_identity.py",
        &[
            "refused",
            &root_dir,
            &root_key,
            &root_secret,
            s3,
            "AuthFailure",
        ],
    );
    admin(&data, &["account", "enable", "acme"]);
    as_dev(accepted);

    // A second key, then a third (refused); a deleted key is refused.
    let second = admin(&data, &[&["key", "add"][..], &dev].concat());
    let third = euca_admin(&data, &[&["key", "add"][..], &dev].concat());
    assert!(!third.status.success(), "{third:?}");
    assert!(
        String::from_utf8_lossy(&third.stderr).contains("limit exceeded"),
        "{third:?}"
    );
    admin(&data, &[&["key", "delete"][..], &dev, &[&dev_key]].concat());
    as_dev(&["refused", "InvalidClientTokenId"]);
    let (second_key, second_secret) = second.trim().split_once('\t').unwrap();
    python(
        "cloud_identity.py",
        &["accepted", &root_dir, second_key, second_secret, s3],
    );

    // An account goes with its users, keys and credentials.
    admin(&data, &["account", "delete", "acme"]);
    assert!(!creds.join("acme").exists() && !creds.join("acme.zip").exists());
    python(
        "cloud_identity.py",
        &[
            "refused",
            &other_dir,
            second_key,
            second_secret,
            s3,
            "InvalidClientTokenId",
        ],
    );
    assert!(!admin(&data, &["account", "list"]).contains("acme"));
}

/// `euca admin --data DATA ARGS...`, whatever its outcome.
fn euca_admin(data: &Path, args: &[&str]) -> std::process::Output {
    common::launcher::euca()
        .arg("admin")
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_cloud_of_the_schema_before_accounts_still_serves_its_users_eucarc_files() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let fixtures = common::workspace_root().join("tests/fixtures/identity");
    let db = match Engine::from_env() {
        Engine::Sqlite => {
            let sql = fixtures.join("users-before-accounts.sqlite.sql");
            let file = data.join("users.sqlite");
            python(
                "cloud_identity.py",
                &[
                    "sqlite-fixture",
                    &file.display().to_string(),
                    &sql.display().to_string(),
                ],
            );
            None
        }
        Engine::Postgres => {
            let Some(url) = new_database() else { return };
            let sql = fixtures.join("users-before-accounts.postgres.sql");
            let mut psql = Command::new("psql");
            psql.args(["--quiet", "--set", "ON_ERROR_STOP=1", "--file"])
                .arg(&sql)
                .arg(&url);
            common::succeeds(psql, "psql of the fixture");
            Some(url)
        }
    };
    let mut args = Vec::new();
    if let Some(url) = &db {
        args.extend(["--db", url.as_str()]);
    }
    let _cloud = start_cloud(keys.path(), &data, &args);

    // The cloud found its administrator and wrote the eucarc anew, with the same key; bob's
    // and carol's eucarc files are as the cloud wrote them then: the same file, their keys.
    let creds = data.join("credentials");
    let admin_rc = std::fs::read_to_string(creds.join("admin/eucarc")).unwrap();
    for (name, key, secret, canonical) in [
        ("bob", "AKLEGACYBOB000000000", "LegacyBobSecret", "0b0b"),
        ("carol", "AKLEGACYCAROL0000000", "LegacyCarolSecret", "0c0c"),
    ] {
        let folder = creds.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        for file in [
            "euca2-admin-cert.pem",
            "euca2-admin-pk.pem",
            "cloud-cert.pem",
        ] {
            std::fs::copy(creds.join("admin").join(file), folder.join(file)).unwrap();
        }
        let rc: String = admin_rc
            .lines()
            .map(|line| match line.split_once('=') {
                Some(("export EC2_ACCESS_KEY", _)) => format!("export EC2_ACCESS_KEY='{key}'"),
                Some(("export EC2_SECRET_KEY", _)) => {
                    format!("export EC2_SECRET_KEY='{secret:0<40}'")
                }
                Some(("export EC2_USER_ID", _)) => {
                    format!("export EC2_USER_ID='{canonical:0>64}'")
                }
                _ => line.to_owned(),
            })
            .map(|line| line + "\n")
            .collect();
        std::fs::write(folder.join("eucarc"), rc).unwrap();
    }
    let folder = |name: &str| creds.join(name).display().to_string();
    python(
        "cloud_identity.py",
        &["legacy", &folder("admin"), &folder("bob"), &folder("carol")],
    );
    let accounts = admin(&data, &["account", "list"]);
    let states: Vec<(&str, &str)> = accounts
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            (fields[0], fields[3])
        })
        .collect();
    assert_eq!(
        states,
        [
            ("admin", "enabled"),
            ("bob", "enabled"),
            ("carol", "disabled")
        ],
        "{accounts}"
    );
    let users = admin(&data, &["user", "list"]);
    assert!(
        users.contains("bob\tadmin\tAKLEGACYBOB000000000\tenabled\troot"),
        "{users}"
    );
}
