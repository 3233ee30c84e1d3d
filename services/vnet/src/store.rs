//! The VM network's state on disk: one SQLite database in the state folder. Each operation's
//! changes are written in one transaction, so a crash leaves either all of them or none.

use std::net::Ipv4Addr;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::state::{Change, Group, State, StoredLease};
use crate::VnetError;

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    CREATE TABLE IF NOT EXISTS networks (
        vlan INTEGER PRIMARY KEY,
        user_name TEXT NOT NULL,
        net_name TEXT NOT NULL,
        UNIQUE (user_name, net_name)
    ) STRICT;
    CREATE TABLE IF NOT EXISTS leases (
        instance_id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        net_name TEXT NOT NULL,
        vlan INTEGER NOT NULL,
        mac TEXT NOT NULL,
        private_ip TEXT NOT NULL
    ) STRICT;
    CREATE TABLE IF NOT EXISTS public_ips (public_ip TEXT PRIMARY KEY, private_ip TEXT NOT NULL) STRICT;
    CREATE TABLE IF NOT EXISTS rules (
        user_name TEXT NOT NULL,
        net_name TEXT NOT NULL,
        position INTEGER NOT NULL,
        spec TEXT NOT NULL,
        PRIMARY KEY (user_name, net_name, position)
    ) STRICT;
";

#[derive(Debug)]
pub(crate) struct Store {
    connection: Connection,
}

impl Store {
    /// Opens (creating) `path` and loads its state. `layout` names the address layout the
    /// state was made for; a database made for another layout is refused, since its leases
    /// would point into the wrong subnets.
    pub fn open(path: &Path, layout: &str) -> Result<(Self, State), VnetError> {
        let db = |source| VnetError::Store {
            path: path.to_owned(),
            source,
        };
        let connection = Connection::open(path).map_err(db)?;
        connection.execute_batch(SCHEMA).map_err(db)?;
        let stored = meta(&connection, "layout").map_err(db)?;
        match stored {
            Some(stored) if stored != layout => {
                return Err(VnetError::LayoutChanged {
                    path: path.to_owned(),
                    stored,
                    configured: layout.to_owned(),
                })
            }
            Some(_) => {}
            None => {
                connection
                    .execute(
                        "INSERT INTO meta (key, value) VALUES ('layout', ?1)",
                        [layout],
                    )
                    .map_err(db)?;
            }
        }
        let state = load(&connection).map_err(|source| match source {
            Load::Sql(source) => db(source),
            Load::Corrupt(reason) => VnetError::Corrupt {
                path: path.to_owned(),
                reason,
            },
        })?;
        Ok((Self { connection }, state))
    }

    /// Writes `changes` in one transaction.
    pub fn write(&mut self, changes: &[Change]) -> Result<(), rusqlite::Error> {
        let tx = self.connection.transaction()?;
        for change in changes {
            write_one(&tx, change)?;
        }
        tx.commit()
    }
}

fn write_one(tx: &Transaction<'_>, change: &Change) -> Result<(), rusqlite::Error> {
    match change {
        Change::Nameserver(ip) => {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('nameserver', ?1)",
                [ip.to_string()],
            )?;
        }
        Change::StartNetwork { vlan, group } => {
            tx.execute(
                "INSERT OR REPLACE INTO networks (vlan, user_name, net_name) VALUES (?1, ?2, ?3)",
                params![vlan, group.user, group.name],
            )?;
        }
        Change::StopNetwork { vlan } => {
            tx.execute(
                "DELETE FROM rules WHERE (user_name, net_name) IN
                     (SELECT user_name, net_name FROM networks WHERE vlan = ?1)",
                [vlan],
            )?;
            tx.execute("DELETE FROM networks WHERE vlan = ?1", [vlan])?;
        }
        Change::Lease(lease) => {
            tx.execute(
                "INSERT OR REPLACE INTO leases (instance_id, user_name, net_name, vlan, mac, private_ip)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    lease.instance_id,
                    lease.group.user,
                    lease.group.name,
                    lease.vlan,
                    lease.mac,
                    lease.private_ip.to_string()
                ],
            )?;
        }
        Change::Release { instance_id } => {
            tx.execute("DELETE FROM leases WHERE instance_id = ?1", [instance_id])?;
        }
        Change::Map { public, private } => {
            tx.execute(
                "INSERT OR REPLACE INTO public_ips (public_ip, private_ip) VALUES (?1, ?2)",
                [public.to_string(), private.to_string()],
            )?;
        }
        Change::Unmap { public } => {
            tx.execute(
                "DELETE FROM public_ips WHERE public_ip = ?1",
                [public.to_string()],
            )?;
        }
        Change::Rules { group, rules } => {
            tx.execute(
                "DELETE FROM rules WHERE user_name = ?1 AND net_name = ?2",
                [&group.user, &group.name],
            )?;
            for (position, spec) in rules.iter().enumerate() {
                tx.execute(
                    "INSERT INTO rules (user_name, net_name, position, spec) VALUES (?1, ?2, ?3, ?4)",
                    params![group.user, group.name, position as i64, spec],
                )?;
            }
        }
    }
    Ok(())
}

enum Load {
    Sql(rusqlite::Error),
    Corrupt(String),
}

impl From<rusqlite::Error> for Load {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

fn ip(text: &str) -> Result<Ipv4Addr, Load> {
    text.parse()
        .map_err(|_| Load::Corrupt(format!("{text:?} is not an address")))
}

fn meta(c: &Connection, key: &str) -> Result<Option<String>, rusqlite::Error> {
    c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

fn load(c: &Connection) -> Result<State, Load> {
    let mut state = State::default();
    let nameserver = meta(c, "nameserver")?;
    state.nameserver = nameserver.as_deref().map(ip).transpose()?;

    let mut query = c.prepare("SELECT vlan, user_name, net_name FROM networks")?;
    let rows = query.query_map([], |r| {
        Ok((
            r.get::<_, i32>(0)?,
            Group {
                user: r.get(1)?,
                name: r.get(2)?,
            },
        ))
    })?;
    for row in rows {
        let (vlan, group) = row?;
        state.networks.insert(vlan, group);
    }

    let mut query =
        c.prepare("SELECT instance_id, user_name, net_name, vlan, mac, private_ip FROM leases")?;
    let rows = query.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Group {
                user: r.get(1)?,
                name: r.get(2)?,
            },
            r.get::<_, i32>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    for row in rows {
        let (instance_id, group, vlan, mac, private_ip) = row?;
        let lease = StoredLease {
            instance_id: instance_id.clone(),
            group,
            vlan,
            mac,
            private_ip: ip(&private_ip)?,
        };
        state.leases.insert(instance_id, lease);
    }

    let mut query = c.prepare("SELECT public_ip, private_ip FROM public_ips")?;
    let rows = query.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (public, private) = row?;
        state.public.insert(ip(&public)?, ip(&private)?);
    }

    let mut query = c.prepare(
        "SELECT user_name, net_name, spec FROM rules ORDER BY user_name, net_name, position",
    )?;
    let rows = query.query_map([], |r| {
        Ok((
            Group {
                user: r.get(0)?,
                name: r.get(1)?,
            },
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (group, spec) = row?;
        state.rules.entry(group).or_default().push(spec);
    }
    Ok(state)
}
