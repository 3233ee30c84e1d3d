//! Asking the storage controller (`euca cloud --storage URL`): its client, signed with the
//! cloud's key as the clusters' are, with a deadline, and the one way its answer becomes an
//! EC2 error: a fault carrying one of EC2's EBS codes (the SC's subcode) is that error;
//! anything else is the SC's failure, logged. And what the end of an instance does to its
//! volumes ([`release`]).

use std::future::Future;
use std::time::Duration;

use soap::{ClientError, HttpTransport};
use wire::storage::{
    DetachStorageVolumeType, GetStorageConfigurationResponseType, GetStorageConfigurationType,
    StorageControllerClient, UpdateStorageConfigurationType,
};

use super::clusters::CLUSTER_DEADLINE;
use super::Cloud;
use crate::error::Ec2Error;
use crate::store::{StoreError, Volume};

/// The storage controller the cloud asks (`--storage`): its URL, and the WS-Security of
/// the asking, with the cloud's key, which also signs the SC's answers.
#[derive(Debug, Clone)]
pub struct StorageController {
    pub url: String,
    pub security: soap::Security,
}

/// How long the SC has to answer.
pub(super) const STORAGE_DEADLINE: Duration = Duration::from_secs(30);
/// How long the SC has to create a volume: one made from a snapshot is copied (and fetched
/// from Walrus) before it answers.
pub(super) const COPY_DEADLINE: Duration = Duration::from_secs(300);

/// What the SC answers to `ask` (given its client) within `deadline`;
/// [`Ec2Error::NoStorage`] when the cloud has none.
pub(super) async fn ask_storage<T, F, Fut>(
    cloud: &Cloud,
    deadline: Duration,
    ask: F,
) -> Result<T, Ec2Error>
where
    F: FnOnce(StorageControllerClient<HttpTransport>) -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let sc = cloud.storage.as_ref().ok_or(Ec2Error::NoStorage)?;
    let transport = HttpTransport::builder(sc.url.clone(), sc.security.clone())
        .connect_timeout(CLUSTER_DEADLINE)
        .request_timeout(deadline)
        .build()
        .map_err(|e| storage_failed(&e))?;
    ask(StorageControllerClient::new(transport))
        .await
        .map_err(|e| storage_error(&e))
}

/// The SC's settings, as its GetStorageConfiguration answers them.
pub async fn configuration(cloud: &Cloud) -> Result<GetStorageConfigurationResponseType, Ec2Error> {
    let request = GetStorageConfigurationType::default();
    ask_storage(cloud, STORAGE_DEADLINE, |sc| async move {
        sc.get_storage_configuration(&request).await
    })
    .await
}

/// Sets the SC's volume limits (GB; `None` leaves one as it is) with its
/// UpdateStorageConfiguration.
pub async fn configure(
    cloud: &Cloud,
    max_total_volume_gb: Option<i32>,
    max_volume_gb: Option<i32>,
) -> Result<(), Ec2Error> {
    let request = UpdateStorageConfigurationType {
        max_total_volume_size: max_total_volume_gb,
        max_volume_size: max_volume_gb,
        ..UpdateStorageConfigurationType::default()
    };
    ask_storage(cloud, STORAGE_DEADLINE, |sc| async move {
        sc.update_storage_configuration(&request).await
    })
    .await?;
    Ok(())
}

/// The EC2 error an SC's failure to answer is.
fn storage_error(error: &ClientError) -> Ec2Error {
    let ClientError::Fault(fault) = error else {
        return storage_failed(error);
    };
    let message = fault.string.clone();
    match fault.subcode.as_deref() {
        Some("InvalidVolume.NotFound") => Ec2Error::VolumeNotFound(message),
        Some("InvalidSnapshot.NotFound") => Ec2Error::SnapshotNotFound(message),
        Some("VolumeInUse") => Ec2Error::VolumeInUse(message),
        Some("IncorrectState") => Ec2Error::IncorrectState(message),
        Some("VolumeLimitExceeded") => Ec2Error::VolumeLimitExceeded(message),
        Some("SnapshotLimitExceeded") => Ec2Error::SnapshotLimitExceeded(message),
        Some("InvalidParameterValue") => Ec2Error::InvalidParameterValue(message),
        _ => storage_failed(error),
    }
}

fn storage_failed(why: &dyn std::fmt::Display) -> Ec2Error {
    tracing::warn!(reason = %why, "storage controller request failed");
    Ec2Error::Storage
}

/// Asks the SC to take back `volume`'s export; a failure is logged (the next attach of the
/// volume to another node is refused until it is).
pub(super) async fn unexport(cloud: &Cloud, volume: &Volume) {
    let ask = DetachStorageVolumeType {
        volume_id: Some(volume.id.clone()),
        node_ip: None,
    };
    match ask_storage(cloud, STORAGE_DEADLINE, |sc| async move {
        sc.detach_storage_volume(&ask).await
    })
    .await
    {
        Ok(_) | Err(Ec2Error::IncorrectState(_) | Ec2Error::VolumeNotFound(_)) => {}
        Err(e) => {
            tracing::warn!(volume = %volume.id, error = %e, "the storage controller kept the volume's export");
        }
    }
}

/// What terminating `instances` (or finding them gone) does to their volumes: each becomes
/// available, and the SC takes back its export.
pub(super) async fn release(cloud: &Cloud, instances: &[String]) -> Result<(), StoreError> {
    for volume in cloud.store.detach_volumes(instances).await? {
        tracing::info!(volume = %volume.id, "the volume's instance is gone: detached");
        if cloud.storage.is_some()
            && volume
                .attachment
                .as_ref()
                .is_some_and(|a| !a.remote_dev.is_empty())
        {
            unexport(cloud, &volume).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use soap::Fault;

    #[test]
    fn the_scs_ec2_codes_are_the_users_errors_and_the_rest_its_own_failure() {
        let fault = |code: &str| ClientError::Fault(Fault::client("why").with_subcode(code));
        let codes = [
            "InvalidVolume.NotFound",
            "InvalidSnapshot.NotFound",
            "VolumeInUse",
            "IncorrectState",
            "VolumeLimitExceeded",
            "SnapshotLimitExceeded",
            "InvalidParameterValue",
        ];
        for code in codes {
            assert_eq!(storage_error(&fault(code)).code(), code);
        }
        assert_eq!(storage_error(&fault("Whatever")).code(), "Unavailable");
        let server = ClientError::Fault(Fault::server("disk on fire"));
        assert_eq!(storage_error(&server).code(), "Unavailable");
    }
}
