//! Nodes the cloud registers with a running cluster (`EucalyptusCCNodes`, a service of ours
//! beside `EucalyptusCC`): added to the pool at once, polled from its next round, and kept in
//! `DATA/registered-nodes`, one `HOST[:PORT]` a line as registered, so that a restart keeps
//! them beside the configured `NODES`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use soap::{ClientError, Fault, RequestContext};
use tokio::sync::Mutex;
use tracing::info;
use wire::cc_nodes::{EucalyptusCcNodes, NodesResponseType, NodesType};

use crate::config::{ConfigError, NodeService};
use crate::nodes::NodePool;
use crate::reply::answer;

/// The file, in the cluster's data directory, the registered nodes are kept in.
pub const FILE: &str = "registered-nodes";

/// Why nodes could not be registered or deregistered.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("no node named")]
    NoNode,
    #[error(transparent)]
    Address(#[from] ConfigError),
    #[error("node {0} is in the cluster's NODES setting: it is taken out there, not registered")]
    Configured(String),
    #[error("cannot make a client for node {url}: {source}")]
    Client { url: String, source: ClientError },
    #[error("cannot read the registered nodes from {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot record the registered nodes in {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One registered node: as the cloud named it, and its service URL.
#[derive(Debug, Clone)]
struct Registered {
    host: String,
    url: String,
}

/// The nodes registered with the cluster, and the pool they are added to.
#[derive(Debug)]
pub struct Registry {
    pool: Arc<NodePool>,
    service: NodeService,
    /// The URLs of the configured `NODES`, which registration leaves alone.
    configured: Vec<String>,
    path: PathBuf,
    /// One change at a time: the file and the pool change together.
    registered: Mutex<Vec<Registered>>,
}

impl Registry {
    /// Reads the nodes registered before from `data`'s [`FILE`] (none when it is missing)
    /// and adds them to `pool`, beside its `configured` ones.
    pub fn open(
        pool: Arc<NodePool>,
        service: NodeService,
        configured: Vec<String>,
        data: &Path,
    ) -> Result<Self, RegistrationError> {
        let path = data.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(RegistrationError::Read { path, source }),
        };
        let hosts: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        let registered = resolve(&service, &hosts)?;
        for node in &registered {
            add(&pool, &node.url)?;
        }
        if !registered.is_empty() {
            info!(
                nodes = registered.len(),
                "registered nodes added to the pool"
            );
        }
        Ok(Self {
            pool,
            service,
            configured,
            path,
            registered: Mutex::new(registered),
        })
    }

    /// Registers `hosts`: each joins the pool at once and is kept across restarts. One the
    /// cluster has (configured or registered) is left as it is.
    pub async fn register(&self, hosts: &[String]) -> Result<(), RegistrationError> {
        let asked = self.asked(hosts)?;
        let mut registered = self.registered.lock().await;
        let mut next = registered.clone();
        for node in asked {
            let known =
                self.configured.contains(&node.url) || next.iter().any(|n| n.url == node.url);
            if !known {
                next.push(node);
            }
        }
        self.write(&next).await?;
        for node in &next[registered.len()..] {
            add(&self.pool, &node.url)?;
            info!(node = %node.url, "node registered");
        }
        *registered = next;
        Ok(())
    }

    /// Deregisters `hosts`: each leaves the pool at once (its instances are not polled any
    /// more) and is forgotten. One not registered is left as it is (the cloud may record a
    /// node this cluster lost); one of `NODES` is refused.
    pub async fn deregister(&self, hosts: &[String]) -> Result<(), RegistrationError> {
        let asked = self.asked(hosts)?;
        let mut registered = self.registered.lock().await;
        for node in &asked {
            if self.configured.contains(&node.url) {
                return Err(RegistrationError::Configured(node.host.clone()));
            }
        }
        let next: Vec<Registered> = registered
            .iter()
            .filter(|n| !asked.iter().any(|a| a.url == n.url))
            .cloned()
            .collect();
        self.write(&next).await?;
        for node in &asked {
            self.pool.remove(&node.url);
            info!(node = %node.url, "node deregistered");
        }
        *registered = next;
        Ok(())
    }

    fn asked(&self, hosts: &[String]) -> Result<Vec<Registered>, RegistrationError> {
        if hosts.is_empty() {
            return Err(RegistrationError::NoNode);
        }
        resolve(&self.service, hosts)
    }

    /// Replaces the file with `nodes`, whole or not at all.
    async fn write(&self, nodes: &[Registered]) -> Result<(), RegistrationError> {
        let text: String = nodes.iter().map(|n| format!("{}\n", n.host)).collect();
        let path = self.path.clone();
        kit::blocking(move || {
            kit::private::write_file(&path, text.as_bytes())
                .map_err(|source| RegistrationError::Write { path, source })
        })
        .await
    }
}

/// Each of `hosts` with its service URL; all must be valid `HOST[:PORT]`s.
fn resolve(service: &NodeService, hosts: &[String]) -> Result<Vec<Registered>, RegistrationError> {
    hosts
        .iter()
        .map(|host| {
            Ok(Registered {
                url: service.url(host)?,
                host: host.clone(),
            })
        })
        .collect()
}

fn add(pool: &NodePool, url: &str) -> Result<(), RegistrationError> {
    pool.add(url).map_err(|source| RegistrationError::Client {
        url: url.to_owned(),
        source,
    })
}

/// The `EucalyptusCCNodes` service of one cluster.
#[derive(Debug, Clone)]
pub struct NodesService {
    registry: Arc<Registry>,
}

impl NodesService {
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

impl EucalyptusCcNodes for NodesService {
    async fn register_nodes(
        &self,
        request: NodesType,
        _context: RequestContext,
    ) -> Result<NodesResponseType, Fault> {
        // Carried to its end even when the cloud goes away meanwhile: the file and the
        // pool change together.
        let (registry, nodes) = (Arc::clone(&self.registry), request.nodes.clone());
        let outcome = kit::detached(async move { registry.register(&nodes).await }).await;
        Ok(answer!(
            NodesResponseType,
            request,
            outcome,
            service_tags: self.registry.pool.urls()
        ))
    }

    async fn deregister_nodes(
        &self,
        request: NodesType,
        _context: RequestContext,
    ) -> Result<NodesResponseType, Fault> {
        // Carried to its end even when the cloud goes away meanwhile: the file and the
        // pool change together.
        let (registry, nodes) = (Arc::clone(&self.registry), request.nodes.clone());
        let outcome = kit::detached(async move { registry.deregister(&nodes).await }).await;
        Ok(answer!(
            NodesResponseType,
            request,
            outcome,
            service_tags: self.registry.pool.urls()
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use soap::Security;

    use super::*;
    use crate::nodes::tests::report;
    use crate::scheduler::{Policy, Resources};

    const SMALL: Resources = Resources {
        memory_mb: 512,
        disk_gb: 2,
        cores: 1,
    };

    fn service() -> NodeService {
        NodeService {
            port: 8775,
            path: "axis2/services/EucalyptusNC".to_owned(),
        }
    }

    /// A registry over a pool configured with the node `n1`, keeping its file in `data`.
    fn open(data: &Path) -> (Arc<NodePool>, Registry) {
        let configured = vec![service().url("n1").unwrap()];
        let pool = Arc::new(
            NodePool::new(
                &configured,
                &Security::unsecured(),
                Policy::Greedy,
                Duration::from_secs(300),
                Duration::from_secs(300),
            )
            .unwrap(),
        );
        let registry = Registry::open(Arc::clone(&pool), service(), configured, data).unwrap();
        (pool, registry)
    }

    fn hosts(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[tokio::test]
    async fn registered_nodes_join_the_pool_at_once_and_stay_across_restarts() {
        let data = tempfile::tempdir().unwrap();
        let (pool, registry) = open(data.path());
        registry.register(&hosts(&["n2:9000", "n3"])).await.unwrap();
        // Already there (configured, or the same node named with its default port): unchanged.
        registry.register(&hosts(&["n1", "n3:8775"])).await.unwrap();
        let url = |at: &str| format!("http://{at}/axis2/services/EucalyptusNC");
        assert_eq!(
            pool.urls(),
            [url("n1:8775"), url("n2:9000"), url("n3:8775")]
        );
        // Polled and schedulable like a configured node.
        let n2 = pool.index_of(&url("n2:9000")).unwrap();
        let ticket = pool.begin_poll(n2).unwrap();
        let free = report(2048, 11, 8);
        pool.finish_poll(ticket, &free, 0);
        assert_eq!(pool.capacity(&SMALL), (4, 4));
        assert_eq!(pool.place(&SMALL, &[]).unwrap().index, n2);
        assert_eq!(
            std::fs::read_to_string(data.path().join(FILE)).unwrap(),
            "n2:9000\nn3\n"
        );

        let (pool, registry) = open(data.path());
        assert_eq!(
            pool.urls(),
            [url("n1:8775"), url("n2:9000"), url("n3:8775")]
        );
        registry.deregister(&hosts(&["n2:9000"])).await.unwrap();
        assert_eq!(pool.urls(), [url("n1:8775"), url("n3:8775")]);
        let (pool, _) = open(data.path());
        assert_eq!(pool.urls(), [url("n1:8775"), url("n3:8775")]);
    }

    #[tokio::test]
    async fn a_node_taken_out_is_neither_polled_counted_nor_chosen() {
        let data = tempfile::tempdir().unwrap();
        let (pool, registry) = open(data.path());
        registry.register(&hosts(&["n2"])).await.unwrap();
        let n2 = pool
            .index_of("http://n2:8775/axis2/services/EucalyptusNC")
            .unwrap();
        let free = report(2048, 11, 8);
        pool.finish_poll(pool.begin_poll(n2).unwrap(), &free, 0);
        // A poll under way when the node is taken out does not bring it back.
        let late = pool.begin_poll(n2).unwrap();
        registry.deregister(&hosts(&["n2"])).await.unwrap();
        pool.finish_poll(late, &free, 0);
        assert!(pool.begin_poll(n2).is_none());
        assert_eq!(pool.capacity(&SMALL), (0, 0));
        assert!(pool.place(&SMALL, &[]).is_none());
        // Registered again, it is back, down until its next poll.
        registry.register(&hosts(&["n2"])).await.unwrap();
        assert_eq!(
            pool.index_of("http://n2:8775/axis2/services/EucalyptusNC"),
            Some(n2)
        );
        pool.finish_poll(pool.begin_poll(n2).unwrap(), &free, 0);
        assert_eq!(pool.capacity(&SMALL), (4, 4));
    }

    #[tokio::test]
    async fn bad_names_and_configured_nodes_are_refused_and_nothing_changes() {
        let data = tempfile::tempdir().unwrap();
        let (pool, registry) = open(data.path());
        for bad in [&[][..], &["n4", "a b"], &["n4", "h:port"], &["http://n4"]] {
            assert!(registry.register(&hosts(bad)).await.is_err(), "{bad:?}");
        }
        let refused = registry.deregister(&hosts(&["n1"])).await.unwrap_err();
        assert!(refused.to_string().contains("NODES"), "{refused}");
        assert_eq!(pool.urls().len(), 1);
        assert!(!data.path().join(FILE).exists());
        // Deregistering a node the cluster does not have leaves it as it is.
        registry.deregister(&hosts(&["n9"])).await.unwrap();
    }
}
