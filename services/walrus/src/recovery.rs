//! Start-up recovery after a crash: what unfinished writes left in staging goes, blobs no
//! metadata names go (written but never committed, or replaced but not yet deleted), and
//! objects whose blobs are gone are forgotten. Afterwards the listing and the stored blobs
//! match exactly.

use std::collections::HashSet;

use tracing::{info, warn};

use crate::error::S3Error;
use crate::state::Walrus;

/// What recovery found and fixed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub staged: usize,
    pub orphans: usize,
    pub lost: Vec<(String, String)>,
}

/// Brings storage and metadata back in line; run before serving.
pub async fn recover(walrus: &Walrus) -> Result<Recovered, S3Error> {
    let backend = walrus.storage().backend();
    let staged = backend.clear_staging().await?;
    let stored = backend.list().await?;
    let referenced = walrus.meta(|meta, _| meta.referenced_blobs()).await?;
    let mut orphans = 0;
    for blob in stored.iter().filter(|b| !referenced.contains(&b.id)) {
        backend.delete(blob).await?;
        orphans += 1;
    }
    let present: HashSet<&str> = stored.iter().map(|b| b.id.as_str()).collect();
    let missing: HashSet<String> = referenced
        .iter()
        .filter(|id| !present.contains(id.as_str()))
        .cloned()
        .collect();
    let lost = if missing.is_empty() {
        Vec::new()
    } else {
        walrus
            .meta(move |meta, _| meta.forget_missing(&missing))
            .await?
    };
    for (bucket, key) in &lost {
        warn!(bucket, key, "object lost: its data is missing from storage");
    }
    if staged + orphans + lost.len() > 0 {
        info!(
            staged,
            orphans,
            lost = lost.len(),
            "recovered from an unclean stop"
        );
    }
    Ok(Recovered {
        staged,
        orphans,
        lost,
    })
}
