//! The instance cache: every instance of the cluster as last placed or reported by its node,
//! answering DescribeInstances without a round trip and naming the node that holds each
//! instance. It is kept in SQLite under DATA, so a restarted cluster still knows its
//! instances (and where they run) before its nodes answer.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use rusqlite::{params, Connection};
use wire::cc::{CcInstanceType, NetConfigType, VirtualMachineType, VolumeType};
use wire::nc::InstanceType;
use xmlbind::{FromXml, ToXml, XmlWriter};

use crate::network::NO_ADDRESS;

/// Why the cache could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("instance cache: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("instance cache: the record of {id} is unreadable: {source}")]
    Corrupt {
        id: String,
        source: xmlbind::XmlError,
    },
}

/// Each instance is stored in its wire form, a `ccInstanceType` element, read back through
/// the hardened parser.
const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE IF NOT EXISTS instances (
        instance_id TEXT PRIMARY KEY,
        record TEXT NOT NULL
    ) STRICT;
";
const RECORD_ELEMENT: &str = "instance";

#[derive(Debug)]
struct Cached {
    record: CcInstanceType,
    /// When the cluster placed it or first saw it (a poll begun earlier may not list it).
    added: Instant,
}

/// A change to write.
enum Change {
    Save(Box<CcInstanceType>),
    Delete(String),
}

/// The cache and its database.
#[derive(Debug)]
pub struct Instances {
    cache: Mutex<HashMap<String, Cached>>,
    /// Held across a cache change and its write, so that the database sees changes in the
    /// order the cache did.
    db: Arc<tokio::sync::Mutex<Connection>>,
}

impl Instances {
    /// Opens (creating if needed) the database at `path` and loads every instance it holds.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path)?;
        connection.execute_batch(SCHEMA)?;
        let mut cache = HashMap::new();
        {
            let mut rows = connection.prepare("SELECT instance_id, record FROM instances")?;
            let mut rows = rows.query([])?;
            let now = Instant::now();
            while let Some(row) = rows.next()? {
                let id: String = row.get(0)?;
                let text: String = row.get(1)?;
                let record = read_record(&text).map_err(|source| StoreError::Corrupt {
                    id: id.clone(),
                    source,
                })?;
                cache.insert(id, Cached { record, added: now });
            }
        }
        Ok(Self {
            cache: Mutex::new(cache),
            db: Arc::new(tokio::sync::Mutex::new(connection)),
        })
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn contains(&self, instance_id: &str) -> bool {
        self.cache().contains_key(instance_id)
    }

    /// The instance's record, if known.
    pub fn get(&self, instance_id: &str) -> Option<CcInstanceType> {
        self.cache().get(instance_id).map(|c| c.record.clone())
    }

    /// The instances `keep` accepts, ordered by id.
    pub fn select(&self, keep: impl Fn(&CcInstanceType) -> bool) -> Vec<CcInstanceType> {
        let mut found: Vec<CcInstanceType> = self
            .cache()
            .values()
            .filter(|c| keep(&c.record))
            .map(|c| c.record.clone())
            .collect();
        found.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        found
    }

    /// Adds a newly placed instance.
    pub async fn add(&self, record: CcInstanceType) -> Result<(), StoreError> {
        self.change(|cache| {
            let id = record.instance_id.clone().unwrap_or_default();
            cache.insert(
                id,
                Cached {
                    record: record.clone(),
                    added: Instant::now(),
                },
            );
            vec![Change::Save(Box::new(record))]
        })
        .await
    }

    /// Forgets an instance.
    pub async fn remove(&self, instance_id: &str) -> Result<(), StoreError> {
        self.change(|cache| match cache.remove(instance_id) {
            Some(_) => vec![Change::Delete(instance_id.to_owned())],
            None => Vec::new(),
        })
        .await
    }

    /// Changes the records `select` picks with `update` (an address assigned, for instance).
    pub async fn update(
        &self,
        select: impl Fn(&CcInstanceType) -> bool,
        update: impl Fn(&mut CcInstanceType),
    ) -> Result<(), StoreError> {
        self.change(|cache| {
            cache
                .values_mut()
                .filter(|c| select(&c.record))
                .map(|c| {
                    update(&mut c.record);
                    Change::Save(Box::new(c.record.clone()))
                })
                .collect()
        })
        .await
    }

    /// Takes in what the node at `node_url` reported in a poll begun at `started`: its
    /// instances are updated, and those it no longer lists are forgotten (unless added after
    /// the poll began).
    pub async fn apply_report(
        &self,
        node_url: &str,
        reported: &[InstanceType],
        started: Instant,
    ) -> Result<(), StoreError> {
        self.change(|cache| {
            let mut changes = take_in(cache, node_url, reported);
            // A set: a node may report thousands.
            let listed: HashSet<&str> = reported.iter().map(|i| i.instance_id.as_str()).collect();
            let gone: Vec<String> = cache
                .iter()
                .filter(|(id, c)| {
                    c.record.service_tag.as_deref() == Some(node_url)
                        && c.added < started
                        && !listed.contains(id.as_str())
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in gone {
                cache.remove(&id);
                changes.push(Change::Delete(id));
            }
            changes
        })
        .await
    }

    /// Takes in what the node at `node_url` reported of some of its instances (a launch
    /// followed): those are updated, and no other is touched.
    pub async fn apply_partial_report(
        &self,
        node_url: &str,
        reported: &[InstanceType],
    ) -> Result<(), StoreError> {
        self.change(|cache| take_in(cache, node_url, reported))
            .await
    }

    /// Applies `edit` to the cache and writes what it changed, in the cache's order.
    async fn change(
        &self,
        edit: impl FnOnce(&mut HashMap<String, Cached>) -> Vec<Change>,
    ) -> Result<(), StoreError> {
        let db = Arc::clone(&self.db).lock_owned().await;
        let changes = edit(&mut self.cache());
        if changes.is_empty() {
            return Ok(());
        }
        kit::blocking(move || write(&db, changes)).await
    }
}

/// Updates the cache with the instances the node at `node_url` reported; the changes to write.
fn take_in(
    cache: &mut HashMap<String, Cached>,
    node_url: &str,
    reported: &[InstanceType],
) -> Vec<Change> {
    let mut changes = Vec::new();
    for instance in reported {
        let known = cache.get(&instance.instance_id);
        let record = from_node(node_url, instance, known.map(|c| &c.record));
        if known.is_some_and(|c| c.record == record) {
            continue;
        }
        let added = known.map_or_else(Instant::now, |c| c.added);
        changes.push(Change::Save(Box::new(record.clone())));
        cache.insert(instance.instance_id.clone(), Cached { record, added });
    }
    changes
}

fn write(connection: &Connection, changes: Vec<Change>) -> Result<(), StoreError> {
    let tx = connection.unchecked_transaction()?;
    for change in changes {
        match change {
            Change::Save(record) => {
                tx.execute(
                    "INSERT OR REPLACE INTO instances VALUES (?1, ?2)",
                    params![record.instance_id, write_record(&record)],
                )?;
            }
            Change::Delete(id) => {
                tx.execute("DELETE FROM instances WHERE instance_id = ?1", [id])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

fn write_record(record: &CcInstanceType) -> String {
    let mut w = XmlWriter::new();
    record.to_xml(&mut w, Some(wire::cc::NAMESPACE), RECORD_ELEMENT);
    w.finish()
}

fn read_record(text: &str) -> Result<CcInstanceType, xmlbind::XmlError> {
    let document = xmlbind::Document::parse(text.as_bytes(), &xmlbind::Limits::default())?;
    CcInstanceType::from_xml(document.root())
}

/// The cluster's record of an instance its node reported, keeping what only the cluster
/// knows (the VM type's name, the network index, addresses the node does not know).
pub fn from_node(
    node_url: &str,
    reported: &InstanceType,
    known: Option<&CcInstanceType>,
) -> CcInstanceType {
    let known_net = known.and_then(|k| k.net_params.as_ref());
    let net = reported.net_params.as_ref().map(|n| {
        let keep = |ours: &str, theirs: Option<&String>| match theirs {
            Some(t) if ours == NO_ADDRESS || ours.is_empty() => t.clone(),
            _ => ours.to_owned(),
        };
        NetConfigType {
            private_mac_address: n.private_mac_address.clone(),
            public_mac_address: n.public_mac_address.clone(),
            vlan: n.vlan,
            private_ip: keep(&n.private_ip, known_net.map(|k| &k.private_ip)),
            public_ip: keep(&n.public_ip, known_net.map(|k| &k.public_ip)),
        }
    });
    let size = &reported.instance_type;
    CcInstanceType {
        image_id: Some(reported.image_id.clone()),
        kernel_id: Some(reported.kernel_id.clone()),
        ramdisk_id: reported.ramdisk_id.clone(),
        instance_id: Some(reported.instance_id.clone()),
        instance_type: Some(VirtualMachineType {
            name: known
                .and_then(|k| k.instance_type.as_ref())
                .and_then(|t| t.name.clone()),
            memory: size.memory,
            cores: size.cores,
            disk: size.disk,
        }),
        key_name: Some(reported.key_name.clone()),
        launch_time: reported.launch_time.clone(),
        state_name: Some(reported.state_name.clone()),
        net_params: net.or_else(|| known_net.cloned()),
        owner_id: Some(reported.user_id.clone()),
        reservation_id: Some(reported.reservation_id.clone()),
        service_tag: Some(node_url.to_owned()),
        user_data: reported.user_data.clone(),
        launch_index: reported.launch_index.clone(),
        network_index: known.and_then(|k| k.network_index),
        group_names: reported.group_names.clone(),
        volumes: reported
            .volumes
            .iter()
            .map(|v| VolumeType {
                volume_id: v.volume_id.clone(),
                remote_dev: v.remote_dev.clone(),
                local_dev: v.local_dev.clone(),
                state: v.state.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NODE: &str = "http://127.0.0.1:1/axis2/services/EucalyptusNC";

    fn reported(id: &str, state: &str) -> InstanceType {
        InstanceType {
            instance_id: id.into(),
            reservation_id: "r-1".into(),
            user_id: "alice".into(),
            image_id: "emi-1".into(),
            kernel_id: "eki-1".into(),
            key_name: "key".into(),
            state_name: state.into(),
            net_params: Some(wire::nc::NetConfigType {
                private_mac_address: "d0:0d:00:00:00:01".into(),
                public_mac_address: "d0:0d:00:00:00:01".into(),
                vlan: 10,
                private_ip: NO_ADDRESS.into(),
                public_ip: NO_ADDRESS.into(),
            }),
            ..InstanceType::default()
        }
    }

    #[tokio::test]
    async fn reports_update_the_cache_and_it_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("instances.sqlite");
        let cache = Instances::open(&path).unwrap();
        let mut placed = from_node(NODE, &reported("i-00000001", "Pending"), None);
        placed.instance_type.as_mut().unwrap().name = Some("m1.small".into());
        placed.net_params.as_mut().unwrap().public_ip = "192.0.2.7".into();
        cache.add(placed).await.unwrap();
        let started = Instant::now();
        cache
            .apply_report(NODE, &[reported("i-00000001", "Extant")], started)
            .await
            .unwrap();
        let seen = cache.get("i-00000001").unwrap();
        assert_eq!(seen.state_name.as_deref(), Some("Extant"));
        assert_eq!(
            seen.instance_type.unwrap().name.as_deref(),
            Some("m1.small")
        );
        assert_eq!(seen.net_params.unwrap().public_ip, "192.0.2.7");
        drop(cache);

        let cache = Instances::open(&path).unwrap();
        let seen = cache.get("i-00000001").unwrap();
        assert_eq!(seen.state_name.as_deref(), Some("Extant"));
        assert_eq!(seen.service_tag.as_deref(), Some(NODE));
    }

    #[tokio::test]
    async fn an_instance_the_node_no_longer_lists_is_forgotten_unless_placed_after_the_poll_began()
    {
        let dir = tempfile::tempdir().unwrap();
        let cache = Instances::open(&dir.path().join("i.sqlite")).unwrap();
        let early = Instant::now();
        tokio::time::sleep(Duration::from_millis(5)).await;
        cache
            .add(from_node(NODE, &reported("i-00000002", "Pending"), None))
            .await
            .unwrap();
        cache.apply_report(NODE, &[], early).await.unwrap();
        assert!(cache.contains("i-00000002"), "placed after the poll began");
        cache.apply_report(NODE, &[], Instant::now()).await.unwrap();
        assert!(!cache.contains("i-00000002"));
        assert!(cache.select(|_| true).is_empty());
    }

    /// Guards a launch's follow: it reports some of a node's instances, never forgets the rest.
    #[tokio::test]
    async fn a_partial_report_updates_the_instances_it_names_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Instances::open(&dir.path().join("i.sqlite")).unwrap();
        for id in ["i-00000003", "i-00000004"] {
            cache
                .add(from_node(NODE, &reported(id, "Pending"), None))
                .await
                .unwrap();
        }
        let later = Instant::now() + Duration::from_secs(1);
        cache
            .apply_partial_report(NODE, &[reported("i-00000004", "Extant")])
            .await
            .unwrap();
        let state = |id| cache.get(id).unwrap().state_name.unwrap();
        assert_eq!(state("i-00000004"), "Extant");
        assert_eq!(state("i-00000003"), "Pending");
        // The whole report, by contrast, forgets what it does not list.
        cache
            .apply_report(NODE, &[reported("i-00000004", "Extant")], later)
            .await
            .unwrap();
        assert!(!cache.contains("i-00000003"));
    }
}
