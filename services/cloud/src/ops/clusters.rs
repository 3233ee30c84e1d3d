//! Asking a cluster controller: its client, signed with the cloud's key, with a deadline.

use std::time::Duration;

use soap::HttpTransport;
use wire::cc::EucalyptusCcClient;

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
