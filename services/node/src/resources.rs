//! What the host offers instances: memory and cores from `/proc`, disk from the file system
//! holding the data directory, each lowered (or, for cores, set) by the settings, as the
//! original's MAX_MEM, MAX_CORES and MAX_DISK did. Or, for the test driver, whose instances
//! are records and a few small files, what the operator declares (`--capacity`), so that a
//! benchmark can run thousands of instances on one node.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::str::FromStr;

use tracing::info;

use crate::instances::VmSize;

/// Memory left to the host itself, in MB (the original kept 256 MB for dom0 or the host).
const HOST_RESERVED_MB: u64 = 256;
const GIB: u64 = 1 << 30;

/// Totals the node offers instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub memory_mb: u64,
    pub cores: u64,
    pub disk_gb: u64,
}

/// The settings that bound what the host offers: `MAX_MEM` (MB) and `MAX_DISK` (GB) lower
/// what the host has, `MAX_CORES` sets the count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub max_mem_mb: Option<u64>,
    pub max_cores: Option<u64>,
    pub max_disk_gb: Option<u64>,
}

impl Capacity {
    /// Measures the host. `data` is the data directory; what instances and the cache already
    /// hold in it counts as offered, since it is theirs.
    pub fn measure(limits: &Limits, data: &Path) -> io::Result<Self> {
        let total_mb = memory_total_kb()? / 1024;
        let mut memory_mb = total_mb.saturating_sub(HOST_RESERVED_MB);
        if let Some(max) = limits.max_mem_mb.filter(|&m| m < memory_mb) {
            memory_mb = max;
        }
        let host_cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let cores = limits.max_cores.unwrap_or(host_cores);
        let fs = rustix::fs::statvfs(data)?;
        let free = fs.f_bavail.saturating_mul(fs.f_frsize);
        let mut disk_gb = (free.saturating_add(bytes_under(data))) / GIB;
        if let Some(max) = limits.max_disk_gb.filter(|&m| m < disk_gb) {
            disk_gb = max;
        }
        let capacity = Self {
            memory_mb,
            cores,
            disk_gb,
        };
        info!(
            memory_mb,
            cores,
            disk_gb,
            host_memory_mb = total_mb,
            host_cores,
            "capacity offered to instances"
        );
        Ok(capacity)
    }

    /// What is left once `held` is subtracted, never below zero.
    pub fn available<'a>(&self, held: impl IntoIterator<Item = &'a VmSize>) -> Self {
        let mut left = *self;
        for size in held {
            left.memory_mb = left.memory_mb.saturating_sub(size.memory_mb);
            left.cores = left.cores.saturating_sub(size.cores);
            left.disk_gb = left.disk_gb.saturating_sub(size.disk_gb);
        }
        left
    }

    /// The first of memory, cores and disk that `size` needs more of than there is, with
    /// the amounts: (resource, requested, available).
    pub fn shortfall(&self, size: &VmSize) -> Option<(&'static str, u64, u64)> {
        [
            ("memory (MB)", size.memory_mb, self.memory_mb),
            ("cores", size.cores, self.cores),
            ("disk (GB)", size.disk_gb, self.disk_gb),
        ]
        .into_iter()
        .find(|&(_, requested, available)| requested > available)
    }
}

/// `cores=N,memory=MiB,disk=GiB`, each once, in any order: what `--capacity` declares.
impl FromStr for Capacity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (mut cores, mut memory_mb, mut disk_gb) = (None, None, None);
        for part in text.split(',') {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not KEY=NUMBER"))?;
            let slot = match key.trim() {
                "cores" => &mut cores,
                "memory" => &mut memory_mb,
                "disk" => &mut disk_gb,
                other => {
                    return Err(format!(
                        "unknown resource {other:?}: use cores, memory (MiB) and disk (GiB)"
                    ))
                }
            };
            let number: u64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{key}: {value:?} is not a whole number"))?;
            if slot.replace(number).is_some() {
                return Err(format!("{key} is given twice"));
            }
        }
        match (cores, memory_mb, disk_gb) {
            (Some(cores), Some(memory_mb), Some(disk_gb)) => Ok(Self {
                memory_mb,
                cores,
                disk_gb,
            }),
            _ => Err("give all three: cores=N,memory=MiB,disk=GiB".to_owned()),
        }
    }
}

fn memory_total_kb() -> io::Result<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no MemTotal in /proc/meminfo"))
}

/// Bytes allocated to the files under `dir` (sparse files count only what they use).
fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => bytes_under(&entry.path()),
            Ok(meta) => meta.blocks().saturating_mul(512),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_lower_what_the_host_has() {
        let data = tempfile::tempdir().unwrap();
        let host = Capacity::measure(&Limits::default(), data.path()).unwrap();
        assert!(
            host.memory_mb > 0 && host.cores > 0 && host.disk_gb > 0,
            "{host:?}"
        );
        let limits = Limits {
            max_mem_mb: Some(100),
            max_cores: Some(64),
            max_disk_gb: Some(3),
        };
        let capped = Capacity::measure(&limits, data.path()).unwrap();
        assert_eq!(capped.memory_mb, 100);
        assert_eq!(
            capped.cores, 64,
            "MAX_CORES sets the count, as the original did"
        );
        assert_eq!(capped.disk_gb, 3);
        // A limit above what the host has does not raise it.
        let huge = Limits {
            max_mem_mb: Some(999_999_999),
            ..Limits::default()
        };
        let huge = Capacity::measure(&huge, data.path()).unwrap();
        assert_eq!(huge.memory_mb, host.memory_mb);
    }

    #[test]
    fn instances_use_up_capacity() {
        let total = Capacity {
            memory_mb: 1024,
            cores: 2,
            disk_gb: 10,
        };
        let small = VmSize {
            memory_mb: 256,
            cores: 1,
            disk_gb: 5,
        };
        let left = total.available([&small, &small]);
        assert_eq!(
            left,
            Capacity {
                memory_mb: 512,
                cores: 0,
                disk_gb: 0
            }
        );
        assert_eq!(left.shortfall(&small), Some(("cores", 1, 0)));
        assert_eq!(total.shortfall(&small), None);
        let big = VmSize {
            memory_mb: 2048,
            ..small
        };
        assert_eq!(total.shortfall(&big), Some(("memory (MB)", 2048, 1024)));
    }

    #[test]
    fn a_declared_capacity_names_all_three_resources() {
        assert_eq!(
            "memory=1280000, cores=10000,disk=20000".parse::<Capacity>(),
            Ok(Capacity {
                memory_mb: 1_280_000,
                cores: 10_000,
                disk_gb: 20_000
            })
        );
        for (bad, says) in [
            ("cores=1,memory=2", "all three"),
            ("cores=1,memory=2,disk=3,cores=4", "twice"),
            ("cores=1,memory=2,disk=lots", "whole number"),
            ("cores=1,memory=2,gpus=3", "unknown resource"),
            ("cores", "KEY=NUMBER"),
        ] {
            let err = bad.parse::<Capacity>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
