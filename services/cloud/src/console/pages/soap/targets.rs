//! Where the SOAP console sends a request and as whom: the components of the cloud by the
//! services they serve, their URLs from the store and the clusters (a cluster's nodes are
//! its DescribeResources' service tags), and the credentials each hop takes — the ones its
//! regular caller signs with, so the component trusts them as it trusts that caller.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use soap::keys::KeyPair;
use soap::wss::{SignOptions, Signer, Verifier, VerifyOptions};
use soap::Security;
use wire::catalog::Service;

use crate::console::ConsoleError;
use crate::ops::Cloud;
use crate::store::StoreError;

/// How long a component has to answer the console.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A component kind, by the services it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// The CLC's EC2 API over SOAP, signed with the administrator's certificate.
    Ec2,
    /// A cluster controller, signed with the cloud's key (as the CLC asks it).
    Cc,
    /// A node controller, signed with the cluster's key (as its CC asks it).
    Nc,
    /// The storage controller, signed with the cloud's key.
    Sc,
    /// Walrus's S3 SOAP API, authenticated inside the request with the administrator's keys.
    Walrus,
    /// Log gathering on a cluster's host (cloud key) or a node's (cluster key).
    Gl,
}

impl Component {
    pub const ALL: [Component; 6] = [
        Self::Ec2,
        Self::Cc,
        Self::Nc,
        Self::Sc,
        Self::Walrus,
        Self::Gl,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Self::Ec2 => "CLC: EC2 SOAP",
            Self::Cc => "Cluster controller",
            Self::Nc => "Node controller",
            Self::Sc => "Storage controller",
            Self::Walrus => "Walrus: S3 SOAP",
            Self::Gl => "Log gathering (GL)",
        }
    }

    /// The generated services this component answers.
    pub fn services(self) -> &'static [&'static Service] {
        static EC2: [&Service; 2] = [
            &wire::ec2::AMAZON_EC2_PORT_TYPE_CATALOG,
            &wire::ec2_additions::AMAZON_EC2_ADDITIONS_PORT_TYPE_CATALOG,
        ];
        static CC: [&Service; 3] = [
            &wire::cc::EUCALYPTUS_CC_CATALOG,
            &wire::cc_sensors::EUCALYPTUS_CC_SENSORS_CATALOG,
            &wire::cc_nodes::EUCALYPTUS_CC_NODES_CATALOG,
        ];
        static NC: [&Service; 2] = [
            &wire::nc::EUCALYPTUS_NC_CATALOG,
            &wire::nc_sensors::EUCALYPTUS_NC_SENSORS_CATALOG,
        ];
        static SC: [&Service; 1] = [&wire::storage::STORAGE_CONTROLLER_CATALOG];
        static WALRUS: [&Service; 1] = [&wire::s3::AMAZON_S3_CATALOG];
        static GL: [&Service; 1] = [&wire::gl::EUCALYPTUS_GL_CATALOG];
        match self {
            Self::Ec2 => &EC2,
            Self::Cc => &CC,
            Self::Nc => &NC,
            Self::Sc => &SC,
            Self::Walrus => &WALRUS,
            Self::Gl => &GL,
        }
    }

    /// The component serving the portType named `port_type`, and that service.
    pub fn of(port_type: &str) -> Option<(Component, &'static Service)> {
        Self::ALL.into_iter().find_map(|component| {
            component
                .services()
                .iter()
                .find(|s| s.port_type == port_type)
                .map(|s| (component, *s))
        })
    }
}

/// Who a request to a target is signed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignAs {
    /// The signed-in administrator's certificate and key, from their credentials.
    Administrator,
    /// The cloud's key, which clusters and the storage controller trust.
    Cloud,
    /// The cluster key, which nodes trust.
    Cluster,
    /// No WS-Security: Walrus authenticates fields of the request.
    None,
}

/// One place a request can go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What the picker shows: `cluster1`, `node of cluster1`.
    pub label: String,
    pub url: String,
    pub signer: SignAs,
}

/// Where `component`'s services are now. A cluster that does not answer lists no nodes.
pub async fn targets(
    cloud: &Cloud,
    component: Component,
    service: &Service,
) -> Result<Vec<Target>, ConsoleError> {
    let target = |label: String, url: String, signer| Target {
        label,
        url: service_url(&url, service),
        signer,
    };
    Ok(match component {
        Component::Ec2 => cloud
            .ec2_url
            .get()
            .map(|url| target("the CLC".into(), url.clone(), SignAs::Administrator))
            .into_iter()
            .collect(),
        Component::Cc => cloud
            .store
            .clusters()
            .await?
            .into_iter()
            .map(|c| target(c.name, c.url, SignAs::Cloud))
            .collect(),
        Component::Nc => nodes(cloud)
            .await?
            .into_iter()
            .map(|(cluster, url)| target(format!("node of {cluster}"), url, SignAs::Cluster))
            .collect(),
        Component::Sc => cloud
            .storage
            .iter()
            .map(|sc| target("the SC".into(), sc.url.clone(), SignAs::Cloud))
            .collect(),
        Component::Walrus => {
            let url = match &cloud.walrus {
                Some(url) => Some(url.clone()),
                None => cloud.store.facts().await?.map(|f| f.s3_url),
            };
            url.map(|url| target("Walrus".into(), url, SignAs::None))
                .into_iter()
                .collect()
        }
        Component::Gl => {
            let mut out = Vec::new();
            for cluster in cloud.store.clusters().await? {
                if let Some(url) = gl_url(&cluster.url) {
                    out.push(target(
                        format!("{} (CC host)", cluster.name),
                        url,
                        SignAs::Cloud,
                    ));
                }
            }
            for (cluster, node) in nodes(cloud).await? {
                if let Some(url) = gl_url(&node) {
                    out.push(target(format!("node of {cluster}"), url, SignAs::Cluster));
                }
            }
            out
        }
    })
}

/// Every node URL the clusters report, with its cluster's name. A cluster that does not
/// answer lists none (and is logged).
async fn nodes(cloud: &Cloud) -> Result<Vec<(String, String)>, StoreError> {
    let mut out = Vec::new();
    for cluster in cloud.store.clusters().await? {
        if let Ok(urls) = crate::ops::clusters::reported_nodes(cloud, &cluster).await {
            out.extend(urls.into_iter().map(|url| (cluster.name.clone(), url)));
        }
    }
    Ok(out)
}

/// The GL service on the host of a CC or NC service URL (plain HTTP, as those are).
fn gl_url(service_url: &str) -> Option<String> {
    let rest = service_url.strip_prefix("http://")?;
    rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(kit::service_beside(service_url, gl::SERVICE_PATH))
}

/// Where `service` is on the host of `component_url`: the services of ours sit at paths of
/// their own beside the CC's and the NC's, every other service at its component's URL.
pub fn service_url(component_url: &str, service: &Service) -> String {
    if std::ptr::eq(service, &wire::cc_sensors::EUCALYPTUS_CC_SENSORS_CATALOG) {
        kit::service_beside(component_url, wire::cc_sensors::SERVICE_PATH)
    } else if std::ptr::eq(service, &wire::cc_nodes::EUCALYPTUS_CC_NODES_CATALOG) {
        kit::service_beside(component_url, wire::cc_nodes::SERVICE_PATH)
    } else if std::ptr::eq(service, &wire::nc_sensors::EUCALYPTUS_NC_SENSORS_CATALOG) {
        kit::service_beside(component_url, wire::nc_sensors::SERVICE_PATH)
    } else {
        component_url.to_owned()
    }
}

/// The security of a request to `target`: its signer's key, and a verifier of replies that
/// trusts every component's certificate.
pub async fn security(
    cloud: &Cloud,
    target: &Target,
    viewer: &users::User,
) -> Result<Security, ConsoleError> {
    let keys = cloud.store.facts().await?.map(|f| f.keys).ok_or_else(|| {
        ConsoleError::BadRequest("the cloud has not recorded its keys yet".into())
    })?;
    let admin_files = match target.signer {
        SignAs::Administrator => {
            let (folder, _) =
                crate::credentials::places(&cloud.data, &viewer.account, &viewer.name)
                    .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
            let (cert, key) = crate::credentials::key_file_names(viewer);
            Some((folder.join(cert), folder.join(key)))
        }
        _ => None,
    };
    let signer = target.signer;
    kit::blocking(move || load(&keys, signer, admin_files))
        .await
        .map_err(ConsoleError::BadRequest)
}

fn load(
    keys: &std::path::Path,
    signer: SignAs,
    admin_files: Option<(PathBuf, PathBuf)>,
) -> Result<Security, String> {
    let trusted = soap::keys::load_certificates(keys, &["cloud", "cluster", "node"])
        .map_err(|e| e.to_string())?;
    // Replies are shown, not acted on: no replay memory.
    let options = VerifyOptions {
        replay_cache_size: 0,
        ..VerifyOptions::default()
    };
    let verifier = Verifier::new(&trusted, options).map_err(|e| e.to_string())?;
    let role_signer = |role: &str| -> Result<Signer, String> {
        KeyPair::load(keys, role)
            .map_err(|e| e.to_string())?
            .signer(SignOptions::default())
            .map_err(|e| e.to_string())
    };
    let signer = match (signer, admin_files) {
        (SignAs::Administrator, Some((cert, key))) => {
            let read = |path: &PathBuf| {
                std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
            };
            Some(
                Signer::from_pem(&read(&key)?, &read(&cert)?, SignOptions::default())
                    .map_err(|e| e.to_string())?,
            )
        }
        (SignAs::Cloud, _) => Some(role_signer("cloud")?),
        (SignAs::Cluster, _) => Some(role_signer("cluster")?),
        (SignAs::Administrator | SignAs::None, _) => None,
    };
    Ok(Security::new(
        signer.map(Arc::new),
        Some(Arc::new(verifier)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gl_is_on_the_host_of_a_cc_or_nc() {
        assert_eq!(
            gl_url("http://10.0.0.2:8775/axis2/services/EucalyptusNC").as_deref(),
            Some("http://10.0.0.2:8775/axis2/services/EucalyptusGL")
        );
        assert_eq!(gl_url("https://x/y"), None);
        assert_eq!(gl_url("http:///nohost"), None);
    }

    #[test]
    fn the_sensors_services_sit_beside_their_component() {
        let cc = "http://10.0.0.1:8774/axis2/services/EucalyptusCC";
        assert_eq!(
            service_url(cc, &wire::cc_sensors::EUCALYPTUS_CC_SENSORS_CATALOG),
            "http://10.0.0.1:8774/axis2/services/EucalyptusCCSensors"
        );
        assert_eq!(
            service_url(
                "http://10.0.0.2:8775/axis2/services/EucalyptusNC",
                &wire::nc_sensors::EUCALYPTUS_NC_SENSORS_CATALOG
            ),
            "http://10.0.0.2:8775/axis2/services/EucalyptusNCSensors"
        );
        assert_eq!(
            service_url(cc, &wire::cc_nodes::EUCALYPTUS_CC_NODES_CATALOG),
            "http://10.0.0.1:8774/axis2/services/EucalyptusCCNodes"
        );
        assert_eq!(service_url(cc, &wire::cc::EUCALYPTUS_CC_CATALOG), cc);
    }

    #[test]
    fn every_port_type_of_a_component_leads_back_to_it() {
        for component in Component::ALL {
            for service in component.services() {
                let (found, _) = Component::of(service.port_type)
                    .unwrap_or_else(|| panic!("{}", service.port_type));
                assert_eq!(found, component);
            }
        }
        assert!(Component::of("IAMPortType").is_none());
    }
}
