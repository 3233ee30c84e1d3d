//! Log and key gathering (`EucalyptusGL`) on a cluster or node host, served on the host's own
//! listener at [`SERVICE_PATH`] and secured like its main service.
//!
//! As in the original: a request whose serviceTag is `self` is answered by this host —
//! GetKeys with its cluster and node certificates (`CCcert`, `NCcert`), GetLogs with the recent
//! lines of its component's log (`CCLog` on a cluster, `NCLog` on a node) — base64-encoded;
//! on a cluster, a serviceTag naming one of its nodes' GL URLs is passed on to that node as
//! `self`, signed with the cluster's key. Any other tag, and every failure, is answered with
//! `return=false` and the reason in `statusMessage`, as the original answered failures.
//!
//! Our HTTP and SOAP layers log to the component's own log, so the original's `httpdLog` and
//! `axis2Log` (Apache's and Axis2/C's logs) stay empty.
//!
//! A host mounts it beside its main service with that service's `soap::Security`:
//! `mount(gl::SERVICE_PATH, wire::gl::EucalyptusGlServer::new(service), security)`, where
//! `service` is [`GlService::for_node`] or [`GlService::for_cluster`] over the keys folder and
//! the [`kit::LogFile`] that `kit::log_to_file(DATA, "nc" | "cc")` returned.

mod error;
mod local;
mod nodes;

use std::path::{Path, PathBuf};

use kit::LogFile;
use soap::{Fault, RequestContext, Security};
use tracing::warn;
use wire::gl::{EucalyptusGl, GetKeysResponseType, GetKeysType, GetLogsResponseType, GetLogsType};

pub use error::NodeAddressError;
pub use nodes::node_gl_url;

use error::GlError;
use nodes::{NodeClient, Nodes};

/// Where the GL service is mounted, on the CC's and on the NC's listener.
pub const SERVICE_PATH: &str = "/axis2/services/EucalyptusGL";

/// The serviceTag that asks the host about itself.
pub const SELF_TAG: &str = "self";

/// The component whose log GetLogs returns.
#[derive(Debug, Clone, Copy)]
enum Component {
    Cluster,
    Node,
}

/// The EucalyptusGL service of one host; mount it with `wire::gl::EucalyptusGlServer::new`.
#[derive(Debug)]
pub struct GlService {
    component: Component,
    keys: PathBuf,
    log: LogFile,
    nodes: Nodes,
}

/// Who answers a request.
enum Route<'a> {
    Here,
    Node(&'a str, &'a NodeClient),
}

impl GlService {
    /// The GL of a node controller: certificates from `keys`, `NCLog` from `log`; it passes
    /// nothing on.
    pub fn for_node(keys: &Path, log: LogFile) -> Self {
        Self {
            component: Component::Node,
            keys: keys.to_owned(),
            log,
            nodes: Nodes::default(),
        }
    }

    /// The GL of a cluster controller: certificates from `keys`, `CCLog` from `log`, and
    /// requests naming the GL of one of `nodes` (`HOST:PORT` each, as `NODES` and `NC_PORT`
    /// give them) passed on to it, signed and verified as `node_security` says (the cluster's
    /// key; the node's certificate trusted).
    pub fn for_cluster<A: AsRef<str>>(
        keys: &Path,
        log: LogFile,
        nodes: &[A],
        node_security: &Security,
    ) -> Result<Self, NodeAddressError> {
        Ok(Self {
            component: Component::Cluster,
            keys: keys.to_owned(),
            log,
            nodes: Nodes::new(nodes, node_security)?,
        })
    }

    fn route<'a>(&'a self, tag: Option<&'a str>) -> Result<Route<'a>, GlError> {
        match tag {
            None | Some("") => Err(GlError::NoTag),
            Some(SELF_TAG) => Ok(Route::Here),
            Some(tag) => match self.nodes.get(tag) {
                Some(client) => Ok(Route::Node(tag, client)),
                None => Err(GlError::UnknownTag(tag.to_owned())),
            },
        }
    }

    async fn keys(&self, request: &GetKeysType) -> Result<GetKeysResponseType, GlError> {
        match self.route(request.service_tag.as_deref())? {
            Route::Here => {
                let keys = self.keys.clone();
                let found = kit::blocking(move || local::certificates(&keys)).await?;
                Ok(GetKeysResponseType {
                    c_ccert: found.cluster,
                    n_ccert: found.node,
                    ..GetKeysResponseType::default()
                })
            }
            Route::Node(node, client) => {
                let request = GetKeysType {
                    service_tag: Some(SELF_TAG.to_owned()),
                    ..request.clone()
                };
                nodes::forwarded(node, client.get_keys(&request)).await
            }
        }
    }

    async fn logs(&self, request: &GetLogsType) -> Result<GetLogsResponseType, GlError> {
        match self.route(request.service_tag.as_deref())? {
            Route::Here => {
                let log = self.log.clone();
                let text = Some(kit::blocking(move || local::log_tail(&log)).await?);
                Ok(match self.component {
                    Component::Cluster => GetLogsResponseType {
                        cc_log: text,
                        ..GetLogsResponseType::default()
                    },
                    Component::Node => GetLogsResponseType {
                        nc_log: text,
                        ..GetLogsResponseType::default()
                    },
                })
            }
            Route::Node(node, client) => {
                let request = GetLogsType {
                    service_tag: Some(SELF_TAG.to_owned()),
                    ..request.clone()
                };
                nodes::forwarded(node, client.get_logs(&request)).await
            }
        }
    }
}

/// The statusMessage of a failed request, logged here: the one place a [`GlError`] meets the
/// wire.
fn failure(operation: &str, tag: Option<&str>, error: &GlError) -> Option<String> {
    let tag = tag.unwrap_or_default();
    warn!(operation, service_tag = tag, error = %error, "GL request failed");
    Some(error.to_string())
}

impl EucalyptusGl for GlService {
    async fn get_logs(
        &self,
        request: GetLogsType,
        _context: RequestContext,
    ) -> Result<GetLogsResponseType, Fault> {
        let answer = match self.logs(&request).await {
            Ok(found) => GetLogsResponseType {
                r#return: Some(true),
                status_message: None,
                ..found
            },
            Err(e) => GetLogsResponseType {
                r#return: Some(false),
                status_message: failure("GetLogs", request.service_tag.as_deref(), &e),
                ..GetLogsResponseType::default()
            },
        };
        // Echoed whoever answered, as the original did.
        Ok(GetLogsResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            service_tag: request.service_tag,
            ..answer
        })
    }

    async fn get_keys(
        &self,
        request: GetKeysType,
        _context: RequestContext,
    ) -> Result<GetKeysResponseType, Fault> {
        let answer = match self.keys(&request).await {
            Ok(found) => GetKeysResponseType {
                r#return: Some(true),
                status_message: None,
                ..found
            },
            Err(e) => GetKeysResponseType {
                r#return: Some(false),
                status_message: failure("GetKeys", request.service_tag.as_deref(), &e),
                ..GetKeysResponseType::default()
            },
        };
        Ok(GetKeysResponseType {
            correlation_id: request.correlation_id,
            user_id: request.user_id,
            service_tag: request.service_tag,
            ..answer
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    use super::*;

    struct Host {
        _dir: tempfile::TempDir,
        service: GlService,
    }

    /// A node's GL over a keys folder holding only a node certificate, and a log of one line.
    fn node() -> Host {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("node-cert.pem"), b"node certificate\n").unwrap();
        let log = LogFile::open(&dir.path().join("nc.log"), 1 << 20).unwrap();
        log.append(b"node controller ready\n").unwrap();
        let service = GlService::for_node(dir.path(), log);
        Host { _dir: dir, service }
    }

    fn logs(tag: Option<&str>) -> GetLogsType {
        GetLogsType {
            correlation_id: Some("corr-1".into()),
            user_id: Some("admin".into()),
            service_tag: tag.map(str::to_owned),
            ..GetLogsType::default()
        }
    }

    fn keys(tag: Option<&str>) -> GetKeysType {
        GetKeysType {
            correlation_id: Some("corr-2".into()),
            service_tag: tag.map(str::to_owned),
            ..GetKeysType::default()
        }
    }

    fn decoded(text: Option<String>) -> String {
        String::from_utf8(STANDARD.decode(text.unwrap()).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn self_is_answered_by_the_host_with_the_request_echoed() {
        let host = node();
        let reply = host
            .service
            .get_logs(logs(Some("self")), RequestContext::default())
            .await
            .unwrap();
        assert_eq!(reply.r#return, Some(true));
        assert_eq!(
            (reply.correlation_id.as_deref(), reply.user_id.as_deref()),
            (Some("corr-1"), Some("admin"))
        );
        assert_eq!(reply.service_tag.as_deref(), Some("self"));
        assert_eq!(decoded(reply.nc_log), "node controller ready\n");
        assert_eq!(
            (reply.cc_log, reply.httpd_log, reply.axis2_log),
            (None, None, None)
        );

        let reply = host
            .service
            .get_keys(keys(Some("self")), RequestContext::default())
            .await
            .unwrap();
        assert_eq!(reply.r#return, Some(true));
        assert_eq!(decoded(reply.n_ccert), "node certificate\n");
        assert_eq!(reply.c_ccert, None, "no cluster-cert.pem in this folder");
    }

    /// Guards against a node's GL passing requests on to anyone a caller names.
    #[tokio::test]
    async fn a_missing_or_unknown_tag_fails_without_a_fault() {
        let host = node();
        let stranger = "http://10.9.9.9:8775/axis2/services/EucalyptusGL";
        for (tag, reason) in [
            (None, "no serviceTag"),
            (Some(""), "no serviceTag"),
            (Some(stranger), "unknown serviceTag"),
        ] {
            let reply = host
                .service
                .get_keys(keys(tag), RequestContext::default())
                .await
                .unwrap();
            assert_eq!(reply.r#return, Some(false), "{tag:?}");
            let message = reply.status_message.unwrap();
            assert!(message.starts_with(reason), "{tag:?}: {message}");
            assert_eq!((reply.c_ccert, reply.n_ccert), (None, None));
            assert_eq!(reply.service_tag.as_deref(), tag);
            assert_eq!(reply.correlation_id.as_deref(), Some("corr-2"));

            let reply = host
                .service
                .get_logs(logs(tag), RequestContext::default())
                .await
                .unwrap();
            assert_eq!(reply.r#return, Some(false), "{tag:?}");
            assert_eq!(reply.nc_log, None);
        }
    }

    /// Serves `service` on a loopback port until the test ends; its `HOST:PORT`.
    async fn serve(service: GlService) -> String {
        let server = soap::Server::builder()
            .mount(
                SERVICE_PATH,
                wire::gl::EucalyptusGlServer::new(service),
                Security::unsecured(),
            )
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let address = server.local_addr().to_string();
        tokio::spawn(server.run(std::future::pending()));
        address
    }

    #[tokio::test]
    async fn a_nodes_answer_and_its_failure_reach_the_caller_under_the_tag_asked_about() {
        let node = node();
        let log_path = node.service.log.path().to_owned();
        let address = serve(node.service).await;
        let dir = tempfile::tempdir().unwrap();
        let log = LogFile::open(&dir.path().join("cc.log"), 1 << 20).unwrap();
        let cluster =
            GlService::for_cluster(dir.path(), log, &[&address], &Security::unsecured()).unwrap();
        let tag = node_gl_url(&address);

        let reply = cluster
            .get_logs(logs(Some(&tag)), RequestContext::default())
            .await
            .unwrap();
        assert_eq!(reply.r#return, Some(true), "{:?}", reply.status_message);
        assert_eq!(decoded(reply.nc_log), "node controller ready\n");
        assert_eq!(reply.cc_log, None);
        assert_eq!(reply.service_tag.as_deref(), Some(tag.as_str()));
        assert_eq!(reply.correlation_id.as_deref(), Some("corr-1"));

        // The node cannot read its log: it says so, and the cluster passes that on.
        std::fs::remove_file(&log_path).unwrap();
        let reply = cluster
            .get_logs(logs(Some(&tag)), RequestContext::default())
            .await
            .unwrap();
        assert_eq!(reply.r#return, Some(false));
        let message = reply.status_message.unwrap();
        let expected = format!("node {tag} failed: cannot read {}", log_path.display());
        assert!(message.starts_with(&expected), "{message}");
        assert_eq!(reply.nc_log, None);
    }

    /// Guards against a dead node stalling or faulting the cluster's answer.
    #[tokio::test]
    async fn an_unreachable_node_is_a_failure_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogFile::open(&dir.path().join("cc.log"), 1 << 20).unwrap();
        // Nothing listens on port 1 of loopback.
        let service =
            GlService::for_cluster(dir.path(), log, &["127.0.0.1:1"], &Security::unsecured())
                .unwrap();
        let tag = node_gl_url("127.0.0.1:1");
        let reply = service
            .get_logs(logs(Some(&tag)), RequestContext::default())
            .await
            .unwrap();
        assert_eq!(reply.r#return, Some(false));
        let message = reply.status_message.unwrap();
        assert!(
            message.starts_with(&format!("node {tag} did not answer")),
            "{message}"
        );
        assert_eq!(reply.service_tag, Some(tag));
    }
}
