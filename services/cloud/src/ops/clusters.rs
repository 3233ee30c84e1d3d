//! Asking a cluster controller: its client, signed with the cloud's key, with a deadline, and
//! the one way a failure to answer becomes an EC2 error.

use std::future::Future;
use std::time::Duration;

use soap::HttpTransport;
use wire::cc::EucalyptusCcClient;

use super::Call;
use crate::error::Ec2Error;
use crate::store::Cluster;

/// The identity the cloud asks its clusters as (the original CC's superuser).
pub(super) const CLOUD_USER: &str = "eucalyptus";
/// How long a cluster has to answer.
pub(super) const CLUSTER_DEADLINE: Duration = Duration::from_secs(5);
/// How long a cluster has to start instances (it places them and asks its nodes).
pub(super) const LAUNCH_DEADLINE: Duration = Duration::from_secs(60);

/// The client of the CC at `url`, whose answers take at most `deadline`.
pub(super) fn client(
    url: &str,
    security: &soap::Security,
    deadline: Duration,
) -> Result<EucalyptusCcClient<HttpTransport>, soap::ClientError> {
    let transport = HttpTransport::builder(url.to_owned(), security.clone())
        .connect_timeout(CLUSTER_DEADLINE)
        .request_timeout(deadline)
        .build()?;
    Ok(EucalyptusCcClient::new(transport))
}

/// What `cluster` answers to `ask` (given its client); a failure to answer is logged and
/// becomes [`Ec2Error::Cluster`].
pub(super) async fn ask_cluster<T, F, Fut>(
    call: &Call<'_>,
    cluster: &Cluster,
    ask: F,
) -> Result<T, Ec2Error>
where
    F: FnOnce(EucalyptusCcClient<HttpTransport>) -> Fut,
    Fut: Future<Output = Result<T, soap::ClientError>>,
{
    let client = client(&cluster.url, &call.cloud.clusters, CLUSTER_DEADLINE)
        .map_err(|e| cluster_failed(cluster, &e.to_string()))?;
    ask(client)
        .await
        .map_err(|e| cluster_failed(cluster, &e.to_string()))
}

pub(super) fn cluster_failed(cluster: &Cluster, why: &str) -> Ec2Error {
    tracing::warn!(cluster = %cluster.name, reason = %why, "cluster request failed");
    Ec2Error::Cluster(cluster.name.clone())
}
