//! Acceptance of the front door: two SOAP services (the generated NC and GL dispatchers, with
//! toy handlers and keys of their own) and a plain REST handler on one listener, each driven
//! by an independent client: zeep for SOAP (its own WSDL, faults and WS-Security per
//! service), python `requests` for REST and for a path nothing serves.

#![allow(clippy::unwrap_used)]

mod common;

// The `hello_nc` example's toy node and security: NC requests signed by the cluster.
#[allow(dead_code)]
#[path = "../examples/hello_nc.rs"]
mod hello_nc;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use soap::keys::{self, KeyPair};
use soap::wss::{SignOptions, Verifier, VerifyOptions};
use soap::{Connection, Fault, HttpBody, RequestContext, Security, Server};
use wire::gl::{
    EucalyptusGl, EucalyptusGlServer, GetKeysResponseType, GetKeysType, GetLogsResponseType,
    GetLogsType,
};

const GL_PATH: &str = "/axis2/services/EucalyptusGL";

/// Answers GetKeys with a fixed certificate; GetLogs with a fault of its own.
struct ToyGl;

impl EucalyptusGl for ToyGl {
    async fn get_logs(
        &self,
        _: GetLogsType,
        _: RequestContext,
    ) -> Result<GetLogsResponseType, Fault> {
        Err(Fault::server("GL keeps no logs here"))
    }

    async fn get_keys(
        &self,
        request: GetKeysType,
        _: RequestContext,
    ) -> Result<GetKeysResponseType, Fault> {
        Ok(GetKeysResponseType {
            correlation_id: request.correlation_id,
            service_tag: request.service_tag,
            c_ccert: Some("gl cluster certificate".into()),
            r#return: Some(true),
            ..Default::default()
        })
    }
}

/// The GL service's security: replies signed by the cluster; requests must be signed by the
/// cloud (not by the cluster, whom the NC trusts). zeep sends no Timestamp.
fn gl_security(keys_dir: &Path) -> Security {
    let cluster = KeyPair::load(keys_dir, "cluster").unwrap();
    let cloud = keys::load_certificates(keys_dir, &["cloud"]).unwrap();
    let verify = VerifyOptions {
        require_timestamp: false,
        ..VerifyOptions::default()
    };
    Security::signed(
        Arc::new(cluster.signer(SignOptions::default()).unwrap()),
        Arc::new(Verifier::new(&cloud, verify).unwrap()),
    )
}

/// A plain REST handler: says what it was asked.
async fn rest(request: Request<Incoming>, _: Connection) -> Response<HttpBody> {
    let text = format!("rest {} {}", request.method(), request.uri().path());
    soap::boxed(Response::new(Full::new(Bytes::from(text))))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_soap_services_and_a_rest_handler_share_one_listener() {
    let dir = tempfile::tempdir().unwrap();
    keys::init(dir.path()).unwrap();
    let server = Server::builder()
        .mount(
            hello_nc::NC_PATH,
            wire::nc::EucalyptusNcServer::new(hello_nc::ToyNode::default()),
            hello_nc::node_security(dir.path()).unwrap(),
        )
        .mount(
            GL_PATH,
            EucalyptusGlServer::new(ToyGl),
            gl_security(dir.path()),
        )
        .route("/rest", rest)
        // Beside GL's endpoint at its very path: it takes what is no SOAP message.
        .route(GL_PATH, rest)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let out = tokio::process::Command::new(common::python())
        .arg(common::workspace_root().join("tests/py/front_door.py"))
        .arg(&base)
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "front_door.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: HashMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
    let text = |path: &str| {
        *seen
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from:\n{stdout}"))
    };

    // Each service hands out its own WSDL, addressed to its own path on this listener.
    assert_eq!(text("nc_wsdl.name"), "EucalyptusNC");
    assert_eq!(
        text("nc_wsdl.address"),
        format!("{base}{}", hello_nc::NC_PATH)
    );
    assert_eq!(text("gl_wsdl.name"), "EucalyptusGL");
    assert_eq!(text("gl_wsdl.address"), format!("{base}{GL_PATH}"));

    // Each answers its own callers, replies signed with its own key (zeep verified them).
    assert_eq!(text("nc_call.reply.nodeStatus"), "enabled");
    assert_eq!(text("nc_call.reply.correlationId"), "fd-1");
    assert_eq!(text("gl_call.reply.CCcert"), "gl cluster certificate");
    assert_eq!(text("gl_call.reply.serviceTag"), "cc-1");

    // Each has its own faults.
    assert_eq!(
        text("nc_fault.fault"),
        "ncRebootInstance is not implemented by the hello_nc example"
    );
    assert_eq!(text("gl_fault.fault"), "GL keeps no logs here");

    // Each has its own security: neither accepts the other's signer, and NC refuses an
    // unsigned call.
    for refused in ["nc_as_cloud.fault", "gl_as_cluster.fault"] {
        assert_eq!(
            text(refused),
            "security check failed: the signing certificate is not trusted",
            "{refused}"
        );
    }
    assert_eq!(
        text("nc_unsigned.fault"),
        "security check failed: the message is not signed"
    );

    // The REST handler serves its prefix, whatever the method; nothing serves the rest.
    assert_eq!(text("rest_get.status"), "200");
    assert_eq!(text("rest_get.body"), "rest GET /rest/buckets/b1");
    assert_eq!(text("rest_post.status"), "200");
    assert_eq!(text("rest_post.body"), "rest POST /rest");
    assert_eq!(text("unknown.status"), "404");
    assert_eq!(text("under_soap.status"), "404");
    // A SOAP path answers only messages and `?wsdl`.
    assert_eq!(text("soap_without_wsdl.status"), "400");
    // A POST that is no SOAP message goes to the handler beside the endpoint, where there is
    // one (zeep's calls to GL above reached GL), else to the endpoint, which refuses it.
    assert_eq!(text("form_beside_soap.status"), "200");
    assert_eq!(
        text("form_beside_soap.body"),
        format!("rest POST {GL_PATH}")
    );
    assert_eq!(text("form_at_soap.status"), "500");

    stop.send(()).unwrap();
    running.await.unwrap();
}
