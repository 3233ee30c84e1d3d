//! `/provisioning` (the cloud admin's): the clusters (register and deregister, as `euca
//! admin cluster`); their nodes, those registered with the cloud (`euca_conf
//! --register-nodes` in the original; registered with their CC first, which adds them to
//! its pool at once) beside those each CC reports (its DescribeResources' service tags: the
//! nodes of its `NODES` and those registered with it), with the instances each runs; Walrus and the storage controller with the SC's volume limits; and
//! the VM types (changed as `euca admin vmtype set`).

use maud::{html, Markup};
use wire::storage::GetStorageConfigurationResponseType;

use super::button;
use crate::console::{ConsoleError, Ctx, Reply, Request};
use crate::ops::clusters::NodeChangeError;
use crate::ops::{self, Zone};
use crate::store::{Cluster, Instance, Node, VmType};

const PATH: &str = "/provisioning";
/// The port of a node named without one: the CC's default `NC_PORT`.
const NC_PORT: u16 = 8775;

/// A cluster with what the cloud knows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    pub cluster: Cluster,
    /// `available`, `unavailable` (its CC did not answer the last poll) or `not polled`.
    pub state: &'static str,
    /// Why its CC reported no nodes, when it did not answer.
    pub unreported: Option<String>,
    pub nodes: Vec<NodeLine>,
}

/// A node of a cluster: registered with the cloud, reported by its CC, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLine {
    /// `HOST:PORT`.
    pub address: String,
    /// As it was registered (`HOST` or `HOST:PORT`), when it was.
    pub registered: Option<String>,
    /// Its service URL, when its CC reports it.
    pub reported: Option<String>,
    /// The instances its CC last reported running on it, not yet gone.
    pub instances: usize,
}

/// `HOST:PORT` of a node named `HOST`, `HOST:PORT` or by its service URL.
fn address(node: &str) -> String {
    let host = node
        .strip_prefix("http://")
        .or_else(|| node.strip_prefix("https://"))
        .map_or(node, |rest| rest.split('/').next().unwrap_or(rest));
    if host
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        host.to_owned()
    } else {
        format!("{host}:{NC_PORT}")
    }
}

/// The nodes of `cluster`: those `registered` with it and those its CC `reported` (service
/// URLs), one line each by address, with the live `instances` on each.
pub fn node_lines(
    cluster: &str,
    registered: &[Node],
    reported: &[String],
    instances: &[Instance],
) -> Vec<NodeLine> {
    let mut lines: Vec<NodeLine> = Vec::new();
    for node in registered.iter().filter(|n| n.cluster == cluster) {
        lines.push(NodeLine {
            address: address(&node.host),
            registered: Some(node.host.clone()),
            reported: None,
            instances: 0,
        });
    }
    for url in reported {
        let at = address(url);
        match lines.iter_mut().find(|l| l.address == at) {
            Some(line) => line.reported = Some(url.clone()),
            None => lines.push(NodeLine {
                address: at,
                registered: None,
                reported: Some(url.clone()),
                instances: 0,
            }),
        }
        let running = instances
            .iter()
            .filter(|i| i.cluster == cluster && !i.observed.vanished && i.observed.node == *url)
            .count();
        if let Some(line) = lines.iter_mut().find(|l| l.reported.as_ref() == Some(url)) {
            line.instances = running;
        }
    }
    lines.sort_by(|a, b| a.address.cmp(&b.address));
    lines
}

/// The zone state a poll of a cluster came to.
pub fn zone_state(zone: Option<&Zone>) -> &'static str {
    match zone {
        None => "not polled",
        Some(None) => "unavailable",
        Some(Some(_)) => "available",
    }
}

/// Everything the page shows.
#[derive(Debug)]
pub struct Provisioning {
    pub clusters: Vec<ClusterView>,
    pub walrus: Option<String>,
    /// The SC's URL and its settings (or why it did not give them).
    pub storage: Option<(String, Result<GetStorageConfigurationResponseType, String>)>,
    pub vm_types: Vec<VmType>,
}

/// `GET /provisioning`.
pub async fn page(ctx: Ctx, _req: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let cloud = &ctx.cloud;
    let registered = cloud.store.nodes().await?;
    let instances = cloud.store.instances(None).await?;
    let mut clusters = Vec::new();
    for cluster in cloud.store.clusters().await? {
        let (reported, unreported) = match ops::clusters::reported_nodes(cloud, &cluster).await {
            Ok(urls) => (urls, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        clusters.push(ClusterView {
            state: zone_state(cloud.zones.get(&cluster.name).as_ref()),
            nodes: node_lines(&cluster.name, &registered, &reported, &instances),
            unreported,
            cluster,
        });
    }
    let storage = match &cloud.storage {
        Some(sc) => Some((
            sc.url.clone(),
            ops::storage::configuration(cloud)
                .await
                .map_err(|e| e.to_string()),
        )),
        None => None,
    };
    let view = Provisioning {
        clusters,
        walrus: cloud.walrus.clone(),
        storage,
        vm_types: cloud.store.vm_types().await?,
    };
    Ok(Reply::page("Provisioning", render(&ctx, &view)))
}

pub fn render(ctx: &Ctx, view: &Provisioning) -> Markup {
    html! {
        h2 { "Clusters" }
        table #clusters {
            thead { tr { th { "Zone" } th { "CC URL" } th { "State" } th { "Nodes" } th {} } }
            tbody {
                @for c in &view.clusters {
                    tr data-cluster=(c.cluster.name) {
                        td { (c.cluster.name) } td { (c.cluster.url) } td.state { (c.state) }
                        td.nodes {
                            (c.nodes.iter().filter(|n| n.reported.is_some()).count()) " reported"
                            @if let Some(why) = &c.unreported { span.unavailable { " (" (why) ")" } }
                        }
                        td { (button(ctx, PATH, "remove-cluster", &[("name", &c.cluster.name)], "Deregister")) }
                    }
                }
            }
        }
        form #add-cluster method="post" action=(PATH) {
            (ctx.csrf_field())
            input type="hidden" name="action" value="add-cluster";
            label { "Zone " input name="name" required; }
            label { "CC URL " input name="url" required placeholder="http://host:8774/axis2/services/EucalyptusCC"; }
            button type="submit" { "Register cluster" }
        }
        h2 { "Nodes" }
        p { "Registering a node here adds it to its cluster's CC at once, which polls it from its next round and places instances on it, and keeps it across the CC's restarts; deregistering takes it out of the CC. The nodes of a CC's NODES setting are reported without being registered, and are changed in its configuration." }
        table #nodes {
            thead { tr { th { "Zone" } th { "Node" } th { "Registered" } th { "Reported by its CC" } th { "Instances" } th {} } }
            tbody {
                @for c in &view.clusters {
                    @for n in &c.nodes {
                        tr data-node=(n.address) data-cluster=(c.cluster.name) {
                            td { (c.cluster.name) } td { (n.address) }
                            td.registered { @if n.registered.is_some() { "yes" } @else { "no" } }
                            td.reported { @match &n.reported { Some(url) => (url), None => "no" } }
                            td { (n.instances) }
                            td {
                                @if let Some(host) = &n.registered {
                                    (button(ctx, PATH, "remove-node", &[("cluster", &c.cluster.name), ("host", host)], "Deregister"))
                                }
                            }
                        }
                    }
                }
            }
        }
        form #add-node method="post" action=(PATH) {
            (ctx.csrf_field())
            input type="hidden" name="action" value="add-node";
            label { "Zone "
                select name="cluster" { @for c in &view.clusters { option value=(c.cluster.name) { (c.cluster.name) } } }
            }
            label { "Node " input name="host" required placeholder="HOST or HOST:PORT"; }
            button type="submit" { "Register node" }
        }
        h2 { "Walrus" }
        p #walrus {
            @match &view.walrus {
                Some(url) => { "Registered at " code { (url) } " (euca cloud --walrus)." },
                None => "Not registered: images are registered without reading their manifests (euca cloud --walrus URL).",
            }
        }
        h2 { "Storage controller" }
        @match &view.storage {
            None => p #storage { "Not registered: the cloud has no volumes (euca cloud --storage URL)." },
            Some((url, settings)) => {
                p #storage { "Registered at " code { (url) } " (euca cloud --storage)." }
                @match settings {
                    Err(why) => p.unavailable { "Its settings are unavailable: " (why) },
                    Ok(s) => form #storage-settings method="post" action=(PATH) {
                        (ctx.csrf_field())
                        input type="hidden" name="action" value="storage";
                        label { "Largest total of volumes (GB) "
                            input name="max_total_gb" type="number" min="1" value=[s.max_total_volume_size]; }
                        label { "Largest volume (GB) "
                            input name="max_volume_gb" type="number" min="1" value=[s.max_volume_size]; }
                        button type="submit" { "Save storage settings" }
                    },
                }
            }
        }
        h2 { "VM types" }
        table #vm-types {
            thead { tr { th { "Name" } th { "CPUs" } th { "Memory (MB)" } th { "Disk (GB)" } th {} } }
            tbody {
                @for t in &view.vm_types {
                    tr data-vmtype=(t.name) {
                        td { (t.name) }
                        td colspan="4" {
                            form.vmtype method="post" action=(PATH) {
                                (ctx.csrf_field())
                                input type="hidden" name="action" value="vmtype";
                                input type="hidden" name="name" value=(t.name);
                                input name="cores" type="number" min="1" value=(t.cores);
                                input name="memory_mb" type="number" min="1" value=(t.memory_mb);
                                input name="disk_gb" type="number" min="1" value=(t.disk_gb);
                                button type="submit" { "Save" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What a POST to `/provisioning` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    AddCluster(Cluster),
    RemoveCluster(String),
    AddNode(Node),
    RemoveNode(Node),
    VmType(VmType),
    /// The SC's volume limits in GB (`None`: unchanged).
    Storage {
        max_total_gb: Option<i32>,
        max_volume_gb: Option<i32>,
    },
}

impl Change {
    pub fn from_form(req: &Request) -> Result<Self, ConsoleError> {
        let number = |name: &str| -> Result<u32, ConsoleError> {
            req.field(name)?
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ConsoleError::BadRequest(format!("{name} must be a whole number above 0"))
                })
        };
        let limit = |name: &str| -> Result<Option<i32>, ConsoleError> {
            match req.optional(name) {
                None => Ok(None),
                Some(_) => i32::try_from(number(name)?)
                    .map(Some)
                    .map_err(|_| ConsoleError::BadRequest(format!("{name} is too large"))),
            }
        };
        match req.field("action")? {
            "add-cluster" => {
                let name = req.field("name")?;
                let url = req.field("url")?;
                if name.chars().any(char::is_whitespace) {
                    return Err(ConsoleError::BadRequest(format!(
                        "a zone name has no blanks: {name:?}"
                    )));
                }
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(ConsoleError::BadRequest(format!(
                        "{url:?} is not an http(s) URL"
                    )));
                }
                Ok(Self::AddCluster(Cluster {
                    name: name.to_owned(),
                    url: url.to_owned(),
                }))
            }
            "remove-cluster" => Ok(Self::RemoveCluster(req.field("name")?.to_owned())),
            "add-node" | "remove-node" => {
                let host = req.field("host")?;
                let port_ok = host
                    .rsplit_once(':')
                    .is_none_or(|(name, port)| !name.is_empty() && port.parse::<u16>().is_ok());
                if host.contains(|c: char| c.is_whitespace() || c == '/') || !port_ok {
                    return Err(ConsoleError::BadRequest(format!(
                        "a node is HOST or HOST:PORT, not {host:?}"
                    )));
                }
                let node = Node {
                    cluster: req.field("cluster")?.to_owned(),
                    host: host.to_owned(),
                };
                Ok(match req.field("action")? {
                    "add-node" => Self::AddNode(node),
                    _ => Self::RemoveNode(node),
                })
            }
            "vmtype" => Ok(Self::VmType(VmType {
                name: req.field("name")?.to_owned(),
                cores: number("cores")?,
                memory_mb: number("memory_mb")?,
                disk_gb: number("disk_gb")?,
            })),
            "storage" => Ok(Self::Storage {
                max_total_gb: limit("max_total_gb")?,
                max_volume_gb: limit("max_volume_gb")?,
            }),
            other => Err(ConsoleError::BadRequest(format!(
                "no provisioning action {other:?}"
            ))),
        }
    }
}

/// `POST /provisioning`.
pub async fn change(ctx: Ctx, req: Request) -> Result<Reply, ConsoleError> {
    ctx.require_admin()?;
    let store = &ctx.cloud.store;
    match Change::from_form(&req)? {
        Change::AddCluster(cluster) => store.add_cluster(&cluster).await?,
        Change::RemoveCluster(name) => store.remove_cluster(&name).await?,
        Change::AddNode(node) => {
            change_node(&ctx, &node, true).await?;
            store.add_node(&node).await?;
        }
        Change::RemoveNode(node) => {
            change_node(&ctx, &node, false).await?;
            store.remove_node(&node).await?;
        }
        Change::VmType(vm_type) => {
            // Changes a type the cloud has; adding types is `euca admin vmtype set`'s.
            if !store
                .vm_types()
                .await?
                .iter()
                .any(|t| t.name == vm_type.name)
            {
                return Err(ConsoleError::NotFound);
            }
            store.set_vm_type(&vm_type).await?;
        }
        Change::Storage {
            max_total_gb,
            max_volume_gb,
        } => ops::storage::configure(&ctx.cloud, max_total_gb, max_volume_gb).await?,
    }
    tracing::info!(admin = %ctx.viewer.arn(), "provisioning changed from the console");
    Ok(Reply::back(PATH))
}

/// Registers (`register`) or deregisters `node` with its cluster's CC, which must take the
/// change before the cloud records it.
async fn change_node(ctx: &Ctx, node: &Node, register: bool) -> Result<(), ConsoleError> {
    let clusters = ctx.cloud.store.clusters().await?;
    let cluster = clusters
        .iter()
        .find(|c| c.name == node.cluster)
        .ok_or_else(|| ConsoleError::BadRequest(format!("no cluster {:?}", node.cluster)))?;
    ops::clusters::change_node(&ctx.cloud, cluster, &node.host, register)
        .await
        .map_err(|e| match e {
            NodeChangeError::Unreachable(e) => ConsoleError::Ec2(e),
            refused @ NodeChangeError::Refused { .. } => {
                ConsoleError::BadRequest(refused.to_string())
            }
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::console::pages::controls::post;

    #[test]
    fn forms_become_the_changes_admin_makes() {
        assert_eq!(
            Change::from_form(&post(&[
                ("action", "add-cluster"),
                ("name", "zone2"),
                ("url", "http://10.0.0.2:8774/axis2/services/EucalyptusCC")
            ]))
            .unwrap(),
            Change::AddCluster(Cluster {
                name: "zone2".into(),
                url: "http://10.0.0.2:8774/axis2/services/EucalyptusCC".into()
            })
        );
        assert_eq!(
            Change::from_form(&post(&[
                ("action", "vmtype"),
                ("name", "m1.small"),
                ("cores", "2"),
                ("memory_mb", "256"),
                ("disk_gb", "4")
            ]))
            .unwrap(),
            Change::VmType(VmType {
                name: "m1.small".into(),
                cores: 2,
                memory_mb: 256,
                disk_gb: 4
            })
        );
        assert_eq!(
            Change::from_form(&post(&[("action", "storage"), ("max_volume_gb", "7")])).unwrap(),
            Change::Storage {
                max_total_gb: None,
                max_volume_gb: Some(7)
            }
        );
    }

    #[test]
    fn bad_values_are_refused_with_what_is_wrong() {
        let refused = |pairs: &[(&str, &str)]| match Change::from_form(&post(pairs)) {
            Err(ConsoleError::BadRequest(why)) => why,
            other => panic!("{other:?}"),
        };
        let vmtype = |cores| {
            refused(&[
                ("action", "vmtype"),
                ("name", "m1.small"),
                ("cores", cores),
                ("memory_mb", "256"),
                ("disk_gb", "4"),
            ])
        };
        assert!(vmtype("0").contains("cores"));
        assert!(vmtype("-1").contains("cores"));
        assert!(vmtype("many").contains("cores"));
        assert!(refused(&[
            ("action", "add-cluster"),
            ("name", "a b"),
            ("url", "http://x")
        ])
        .contains("blanks"));
        assert!(
            refused(&[("action", "add-cluster"), ("name", "z"), ("url", "ftp://x")])
                .contains("URL")
        );
        assert!(
            refused(&[("action", "storage"), ("max_total_gb", "3000000000")]).contains("too large")
        );
        assert!(refused(&[("action", "reboot-cloud")]).contains("reboot-cloud"));
    }

    #[test]
    fn nodes_are_registered_reported_or_both_with_their_instances() {
        let node = |cluster: &str, host: &str| Node {
            cluster: cluster.into(),
            host: host.into(),
        };
        let url = |at: &str| format!("http://{at}/axis2/services/EucalyptusNC");
        let on = |id: &str, at: &str, vanished: bool| Instance {
            observed: crate::store::Observed {
                node: url(at),
                vanished,
                ..crate::store::Observed::default()
            },
            ..crate::store::suite::sample(id, "a", "r-1", "east", 0)
        };
        let lines = node_lines(
            "east",
            &[
                node("east", "10.0.0.1"),
                node("east", "10.0.0.9:9000"),
                node("west", "10.0.0.1"),
            ],
            &[url("10.0.0.1:8775"), url("10.0.0.2:8775")],
            &[
                on("i-1", "10.0.0.1:8775", false),
                on("i-2", "10.0.0.1:8775", true),
                on("i-3", "10.0.0.2:8775", false),
            ],
        );
        let seen: Vec<(&str, bool, bool, usize)> = lines
            .iter()
            .map(|l| {
                (
                    l.address.as_str(),
                    l.registered.is_some(),
                    l.reported.is_some(),
                    l.instances,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("10.0.0.1:8775", true, true, 1),
                ("10.0.0.2:8775", false, true, 1),
                ("10.0.0.9:9000", true, false, 0)
            ]
        );
        assert_eq!(
            Change::from_form(&post(&[
                ("action", "add-node"),
                ("cluster", "east"),
                ("host", "10.0.0.3:8775")
            ]))
            .unwrap(),
            Change::AddNode(node("east", "10.0.0.3:8775"))
        );
        for host in ["a b", "h/x", "h:port", ":8775"] {
            assert!(Change::from_form(&post(&[
                ("action", "add-node"),
                ("cluster", "east"),
                ("host", host)
            ]))
            .is_err());
        }
    }

    #[test]
    fn a_zone_is_not_polled_unavailable_or_available() {
        assert_eq!(zone_state(None), "not polled");
        assert_eq!(zone_state(Some(&None)), "unavailable");
        assert_eq!(zone_state(Some(&Some(Vec::new()))), "available");
    }
}
