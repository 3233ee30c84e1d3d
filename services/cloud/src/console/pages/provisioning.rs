//! `/provisioning` (the cloud admin's): the clusters (register and deregister, as `euca
//! admin cluster`), the nodes each CC reports, Walrus and the storage controller with the
//! SC's volume limits, and the VM types (changed as `euca admin vmtype set`).

use maud::{html, Markup};
use wire::storage::GetStorageConfigurationResponseType;

use super::controls::action;
use crate::console::{ConsoleError, Ctx, Reply, Request};
use crate::ops::{self, Zone};
use crate::store::{Cluster, VmType};

const PATH: &str = "/provisioning";

/// A cluster with what the cloud knows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    pub cluster: Cluster,
    /// `available`, `unavailable` (its CC did not answer the last poll) or `not polled`.
    pub state: &'static str,
    /// The nodes its CC reports (their service URLs), or why it reports none.
    pub nodes: Result<Vec<String>, String>,
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
    let mut clusters = Vec::new();
    for cluster in cloud.store.clusters().await? {
        let nodes = ops::clusters::reported_nodes(cloud, &cluster)
            .await
            .map_err(|e| e.to_string());
        clusters.push(ClusterView {
            state: zone_state(cloud.zones.get(&cluster.name).as_ref()),
            cluster,
            nodes,
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
            thead { tr { th { "Zone" } th { "CC URL" } th { "State" } th { "Nodes the CC reports" } th {} } }
            tbody {
                @for c in &view.clusters {
                    tr data-cluster=(c.cluster.name) {
                        td { (c.cluster.name) } td { (c.cluster.url) } td.state { (c.state) }
                        td.nodes {
                            @match &c.nodes {
                                Ok(nodes) if nodes.is_empty() => "none",
                                Ok(nodes) => ul { @for n in nodes { li.node { (n) } } },
                                Err(why) => span.unavailable { (why) },
                            }
                        }
                        td { (action(ctx, PATH, "Deregister", &[("action", "remove-cluster"), ("name", &c.cluster.name)])) }
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
            match req.form.get(name).map(str::trim).filter(|v| !v.is_empty()) {
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
    fn a_zone_is_not_polled_unavailable_or_available() {
        assert_eq!(zone_state(None), "not polled");
        assert_eq!(zone_state(Some(&None)), "unavailable");
        assert_eq!(zone_state(Some(&Some(Vec::new()))), "available");
    }
}
