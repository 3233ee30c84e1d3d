//! Acceptance of EucalyptusGL (issue 11, point 4): zeep, reading the original Eucalyptus 1.6.1
//! GL WSDL, calls GetKeys and GetLogs on a real `euca node`'s listener, and on a cluster's GL
//! (a real `euca cluster`) that passes a request naming the node's GL on to it; unsigned and wrongly
//! signed requests are refused.

#![allow(clippy::unwrap_used)]

mod common;
mod node_support;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use node_support::*;

/// A real node controller on the test hypervisor, and the original GL WSDL to call it with.
struct Setup {
    wsdl: PathBuf,
    keys: Keys,
    data: tempfile::TempDir,
    nc: Nc,
}

/// Starts the node; `None` (the test prints `skipped:`) without the reference.
fn setup() -> Option<Setup> {
    let wsdl = common::reference_dir()
        .map(|dir| dir.join("eucalyptus-1.6.1/wsdl/eucalyptus_gl.wsdl"))
        .filter(|wsdl| wsdl.is_file());
    let Some(wsdl) = wsdl else {
        println!("skipped: no reference (../shared/reference is absent)");
        return None;
    };
    let keys = Keys::new();
    let data = tempfile::tempdir().unwrap();
    let nc = NcSetup::test_driver(&keys, data.path()).start();
    Some(Setup {
        wsdl,
        keys,
        data,
        nc,
    })
}

/// What `tests/py/gl_calls.py` saw calling the GL at `endpoint` signed by `signer`, trusting
/// `peer`'s replies, asking about each of `tags`, and as each of the `wrong` roles.
async fn gl_calls(
    wsdl: &Path,
    endpoint: &str,
    keys: &Keys,
    (signer, peer): (&str, &str),
    tags: &[&str],
    wrong: &[&str],
) -> HashMap<String, String> {
    let out = tokio::process::Command::new(common::python())
        .arg(common::workspace_root().join("tests/py/gl_calls.py"))
        .arg(wsdl)
        .arg(endpoint)
        .arg(keys.path())
        .args([signer, peer, "--tags"])
        .args(tags)
        .arg("--wrong")
        .args(wrong)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "gl_calls.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Looks facts up by path, failing with everything seen when one is missing.
struct Seen(HashMap<String, String>);

impl Seen {
    fn get(&self, path: &str) -> &str {
        self.0
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from {:#?}", self.0))
    }

    fn has(&self, path: &str) -> bool {
        self.0.contains_key(path)
    }

    /// The operation asked about `tag` succeeded, echoing the tag.
    fn answered(&self, operation: &str, tag: &str) {
        let path = |field: &str| format!("{operation}.{tag}.{field}");
        let failure = self.0.get(&path("statusMessage"));
        assert_eq!(
            self.get(&path("return")),
            "True",
            "{operation} {tag}: {failure:?}"
        );
        assert_eq!(self.get(&path("serviceTag")), tag);
    }

    /// Unsigned and wrongly signed calls were refused by the security check.
    fn refused(&self, roles: &[&str]) {
        assert!(
            self.get("refused.unsigned").contains("not signed"),
            "{}",
            self.get("refused.unsigned")
        );
        for role in roles {
            let fault = self.get(&format!("refused.{role}"));
            assert!(
                fault.starts_with("security check failed"),
                "signed by {role}: {fault}"
            );
        }
    }

    /// The tag was neither `self` nor a known node: both calls failed, echoing it.
    fn unknown(&self, tag: &str) {
        for operation in ["GetKeys", "GetLogs"] {
            let at = |field: &str| self.get(&format!("{operation}.{tag}.{field}")).to_owned();
            assert_eq!(at("return"), "False", "{operation} {tag}");
            assert_eq!(at("serviceTag"), tag);
            assert!(
                at("statusMessage").starts_with("unknown serviceTag"),
                "{}",
                at("statusMessage")
            );
        }
    }
}

/// A file's text as `gl_calls.py` prints it: whitespace collapsed.
fn collapsed(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A node's GL URL, as the original CLC made it from the node's service tag.
fn gl_url(nc_url: &str) -> String {
    nc_url.replace("EucalyptusNC", "EucalyptusGL")
}

/// The node's `HOST:PORT`, as a cluster's `--nodes` names it.
fn node_address(nc: &Nc) -> String {
    let authority = nc.url().trim_start_matches("http://").split('/').next();
    authority.unwrap().to_owned()
}

/// A GL URL no host of these tests serves.
const STRANGER: &str = "http://127.0.0.1:9/axis2/services/EucalyptusGL";

/// What the GL of a cluster whose node is `nc` answers at `endpoint`, asked by the cloud (with
/// the original WSDL) about itself, about `nc` and about a stranger; `cc_log` is a line its
/// own log holds. For any cluster GL: this file's in-process one, and the CC's.
async fn cluster_gl_answers(wsdl: &Path, endpoint: &str, keys: &Keys, nc: &Nc, cc_log: &str) {
    let node_gl = gl_url(nc.url());
    let seen = Seen(
        gl_calls(
            wsdl,
            endpoint,
            keys,
            ("cloud", "cluster"),
            &["self", &node_gl, STRANGER],
            &["cluster", "node"],
        )
        .await,
    );

    // `self`: the cluster's own certificates and log.
    seen.answered("GetKeys", "self");
    assert_eq!(
        seen.get("GetKeys.self.CCcert"),
        collapsed(&keys.file("cluster-cert.pem"))
    );
    let log = seen.get("GetLogs.self.CCLog");
    assert!(log.contains(cc_log), "{cc_log:?} not in CCLog: {log}");
    assert!(!seen.has("GetLogs.self.NCLog"));

    // The node's GL URL: the node's answers, passed back under the tag asked about.
    seen.answered("GetKeys", &node_gl);
    assert_eq!(
        seen.get(&format!("GetKeys.{node_gl}.correlationId")),
        "gl-keys-1"
    );
    assert_eq!(
        seen.get(&format!("GetKeys.{node_gl}.NCcert")),
        collapsed(&keys.file("node-cert.pem"))
    );
    seen.answered("GetLogs", &node_gl);
    let node_log = seen.get(&format!("GetLogs.{node_gl}.NCLog"));
    assert!(
        node_log.contains(&format!("node controller ready url={}", nc.url())),
        "no ready line in the forwarded NCLog: {node_log}"
    );
    assert!(!seen.has(&format!("GetLogs.{node_gl}.CCLog")));

    // Anything else is refused: never an open proxy. The cluster's GL takes the cloud's
    // requests only.
    seen.unknown(STRANGER);
    seen.refused(&["cluster", "node"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_nodes_gl_answers_the_cluster_with_its_certificates_and_log() {
    let Some(Setup {
        wsdl,
        keys,
        data,
        nc,
    }) = setup()
    else {
        return;
    };

    let seen = Seen(
        gl_calls(
            &wsdl,
            &gl_url(nc.url()),
            &keys,
            ("cluster", "node"),
            &["self", STRANGER],
            &["node", "cloud"],
        )
        .await,
    );

    // GetKeys: the PEM files of the node's keys folder, as the original sent them.
    seen.answered("GetKeys", "self");
    assert_eq!(seen.get("GetKeys.self.correlationId"), "gl-keys-0");
    assert_eq!(
        seen.get("GetKeys.self.NCcert"),
        collapsed(&keys.file("node-cert.pem"))
    );
    assert_eq!(
        seen.get("GetKeys.self.CCcert"),
        collapsed(&keys.file("cluster-cert.pem"))
    );

    // GetLogs: the node's own log, holding its ready line.
    seen.answered("GetLogs", "self");
    let log = seen.get("GetLogs.self.NCLog");
    assert!(
        log.contains(&format!("node controller ready url={}", nc.url())),
        "no ready line in NCLog: {log}"
    );
    assert!(!seen.has("GetLogs.self.CCLog"), "a node has no CC log");

    // A node passes nothing on, and takes requests from the cluster only.
    seen.unknown(STRANGER);
    seen.refused(&["node", "cloud"]);

    // What GetLogs reads is its owner's only.
    let log_file = data.path().join("log/nc.log");
    assert_eq!(
        (mode(&data.path().join("log")), mode(&log_file)),
        (0o700, 0o600)
    );
}

/// The real `euca cluster`'s GL, over a real node: the CC half of acceptance point 4.
#[tokio::test(flavor = "multi_thread")]
async fn the_cluster_controllers_gl_answers_for_itself_and_passes_node_requests_on() {
    // The node's data folder stays until the end of the test.
    let Some(Setup {
        wsdl,
        keys,
        nc,
        data: _nc_data,
    }) = setup()
    else {
        return;
    };
    let cc_data = tempfile::tempdir().unwrap();
    let mut command = common::launcher::euca();
    command
        .args(["cluster", "--listen", "127.0.0.1:0", "--keys"])
        .arg(keys.path())
        .arg("--data")
        .arg(cc_data.path())
        .args(["--nodes", &node_address(&nc)]);
    let mut cc = common::launcher::Component::start(command, "cluster controller").unwrap();
    let endpoint = cc.url.replace("EucalyptusCC", "EucalyptusGL");
    assert!(endpoint.ends_with(gl::SERVICE_PATH), "{endpoint}");
    cluster_gl_answers(
        &wsdl,
        &endpoint,
        &keys,
        &nc,
        "cluster controller ready url=",
    )
    .await;
    assert_eq!(mode(&cc_data.path().join("log/cc.log")), 0o600);
    assert!(cc.terminate().success(), "{}", cc.log());
}
