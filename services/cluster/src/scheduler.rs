//! Capacity arithmetic and the placement policies of the original cluster controller.

use std::fmt;
use std::str::FromStr;

/// Memory, disk and cores: what a node has, or what a VM type needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    pub memory_mb: i64,
    pub disk_gb: i64,
    pub cores: i64,
}

impl Resources {
    /// How many VMs of size `vm` fit: ⌊min(memory/memory, disk/disk, cores/cores)⌋, 0 when any
    /// part is exhausted. `vm` must need some of each (the handlers refuse other sizes).
    pub fn fits(&self, vm: &Resources) -> i64 {
        let part = |have: i64, need: i64| if need > 0 { have.max(0) / need } else { 0 };
        part(self.memory_mb, vm.memory_mb)
            .min(part(self.disk_gb, vm.disk_gb))
            .min(part(self.cores, vm.cores))
    }

    pub fn minus(&self, other: &Resources) -> Resources {
        Resources {
            memory_mb: self.memory_mb - other.memory_mb,
            disk_gb: self.disk_gb - other.disk_gb,
            cores: self.cores - other.cores,
        }
    }

    pub fn plus(&self, other: &Resources) -> Resources {
        Resources {
            memory_mb: self.memory_mb + other.memory_mb,
            disk_gb: self.disk_gb + other.disk_gb,
            cores: self.cores + other.cores,
        }
    }
}

/// `SCHEDPOLICY`: how a node is chosen for each instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// The first node (in configured order) with room.
    Greedy,
    /// The first node with room after the one chosen last.
    #[default]
    RoundRobin,
    /// Greedy over awake nodes, waking a sleeping node only when no awake one has room; idle
    /// nodes are powered down.
    PowerSave,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Self::Greedy => "GREEDY",
            Self::RoundRobin => "ROUNDROBIN",
            Self::PowerSave => "POWERSAVE",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Policy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "GREEDY" => Ok(Self::Greedy),
            "ROUNDROBIN" => Ok(Self::RoundRobin),
            "POWERSAVE" => Ok(Self::PowerSave),
            other => Err(format!(
                "unknown policy {other:?}: use GREEDY, ROUNDROBIN or POWERSAVE"
            )),
        }
    }
}

/// A node's health as the cluster last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Answered its last poll.
    Up,
    /// Failed its last poll or a call: offers nothing until it answers again.
    Down,
    /// Powered down by POWERSAVE: not polled, offers what it had (available on wake).
    Asleep,
    /// Asked to wake: used as if up, and given POWER_WAKETHRESH to answer.
    Waking,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Asleep => "asleep",
            Self::Waking => "waking",
        }
    }
}

/// What the scheduler sees of one node.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    pub health: Health,
    pub available: Resources,
    /// Already tried for this instance and failed.
    pub excluded: bool,
}

impl Candidate {
    fn takes(&self, vm: &Resources) -> bool {
        !self.excluded && self.health != Health::Down && self.available.fits(vm) >= 1
    }
}

/// Chooses nodes under a policy; remembers where round robin goes next.
#[derive(Debug, Clone, Default)]
pub struct Scheduler {
    policy: Policy,
    next: usize,
}

impl Scheduler {
    pub fn new(policy: Policy) -> Self {
        Self { policy, next: 0 }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The index of the node to run `vm` on, or `None` when no node has room.
    pub fn choose(&mut self, nodes: &[Candidate], vm: &Resources) -> Option<usize> {
        match self.policy {
            Policy::RoundRobin => {
                let count = nodes.len();
                let start = self.next.min(count);
                let chosen = (start..count)
                    .chain(0..start)
                    .find(|&i| nodes[i].takes(vm))?;
                self.next = (chosen + 1) % count;
                Some(chosen)
            }
            // Awake nodes first, in order; a sleeping node only when none has room.
            Policy::Greedy | Policy::PowerSave => nodes
                .iter()
                .position(|n| n.health != Health::Asleep && n.takes(vm))
                .or_else(|| nodes.iter().position(|n| n.takes(vm))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SMALL: Resources = Resources {
        memory_mb: 128,
        disk_gb: 2,
        cores: 1,
    };

    fn node(health: Health, memory_mb: i64, disk_gb: i64, cores: i64) -> Candidate {
        Candidate {
            health,
            available: Resources {
                memory_mb,
                disk_gb,
                cores,
            },
            excluded: false,
        }
    }

    #[test]
    fn fits_is_the_floor_of_the_smallest_ratio() {
        let node = Resources {
            memory_mb: 2048,
            disk_gb: 11,
            cores: 8,
        };
        // memory 16, disk 5, cores 8 → 5
        assert_eq!(node.fits(&SMALL), 5);
        let big = Resources {
            memory_mb: 1024,
            disk_gb: 1,
            cores: 3,
        };
        assert_eq!(node.fits(&big), 2);
        assert_eq!(Resources::default().fits(&SMALL), 0);
        let overdrawn = node.minus(&Resources {
            memory_mb: 4096,
            ..Resources::default()
        });
        assert_eq!(overdrawn.fits(&SMALL), 0);
        assert_eq!(node.fits(&Resources::default()), 0, "a size of nothing");
    }

    #[test]
    fn greedy_takes_the_first_node_with_room() {
        let mut s = Scheduler::new(Policy::Greedy);
        let nodes = [
            node(Health::Up, 64, 10, 4),
            node(Health::Down, 4096, 100, 8),
            node(Health::Up, 4096, 100, 8),
            node(Health::Up, 4096, 100, 8),
        ];
        assert_eq!(s.choose(&nodes, &SMALL), Some(2));
        assert_eq!(s.choose(&nodes, &SMALL), Some(2));
    }

    #[test]
    fn round_robin_rotates_its_start_and_skips_full_or_down_nodes() {
        let mut s = Scheduler::new(Policy::RoundRobin);
        let mut nodes = [
            node(Health::Up, 4096, 100, 8),
            node(Health::Up, 4096, 100, 8),
            node(Health::Up, 4096, 100, 8),
        ];
        let picks: Vec<_> = (0..4).map(|_| s.choose(&nodes, &SMALL).unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 0]);
        nodes[1].health = Health::Down;
        nodes[2].available = Resources::default();
        assert_eq!(s.choose(&nodes, &SMALL), Some(0), "1 is down, 2 is full");
        nodes[0].excluded = true;
        assert_eq!(s.choose(&nodes, &SMALL), None);
    }

    #[test]
    fn powersave_wakes_a_sleeping_node_only_when_no_awake_one_has_room() {
        let mut s = Scheduler::new(Policy::PowerSave);
        let mut nodes = [
            node(Health::Asleep, 4096, 100, 8),
            node(Health::Up, 4096, 100, 8),
        ];
        assert_eq!(s.choose(&nodes, &SMALL), Some(1));
        nodes[1].available = Resources::default();
        assert_eq!(s.choose(&nodes, &SMALL), Some(0));
        nodes[0].health = Health::Waking;
        assert_eq!(s.choose(&nodes, &SMALL), Some(0));
    }

    #[test]
    fn policies_read_as_the_settings_spell_them() {
        assert_eq!("POWERSAVE".parse::<Policy>().unwrap(), Policy::PowerSave);
        assert_eq!(Policy::default(), Policy::RoundRobin);
        assert!("greedy".parse::<Policy>().is_err());
    }
}
