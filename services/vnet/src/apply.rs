//! Makes a network namespace match a [`Plan`]. The CC works in a namespace it creates
//! itself (never the host's by default), and changes only what differs from the plan: the
//! tables are replaced whole with `iptables-restore` when they differ, interfaces and
//! addresses are added or removed one by one, so applying an unchanged plan runs nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};

use tracing::info;

use crate::plan::{words, AddressSpec, Plan, METADATA_IP};
use crate::{Addressing, VnetConfig, VnetError};

/// What one [`apply`](crate::VirtualNetwork::apply) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub namespace: String,
    /// Each change made, as the command that made it.
    pub changes: Vec<String>,
    /// Commands that failed, with their error; the rest of the plan was applied anyway
    /// (a kernel without 802.1q support refuses VLAN devices, for one).
    pub failures: Vec<String>,
}

impl ApplyReport {
    pub fn changed(&self) -> bool {
        !self.changes.is_empty()
    }
}

pub(crate) fn apply(
    config: &VnetConfig,
    plan: &Plan,
    netns: &str,
    state_dir: &Path,
) -> Result<ApplyReport, VnetError> {
    let mut report = ApplyReport {
        namespace: netns.to_owned(),
        ..Default::default()
    };
    ensure_netns(netns, &mut report)?;
    let ns = Namespace(netns);
    ns.apply_links(config, plan, &mut report)?;
    ns.apply_addresses(config, plan, &mut report)?;
    ns.apply_tables(plan, &mut report)?;
    if let Some(conf) = &plan.dhcpd_conf {
        apply_dhcp(config, plan, &ns, conf, state_dir, &mut report)?;
    }
    if report.changed() {
        info!(
            netns,
            changes = report.changes.len(),
            failures = report.failures.len(),
            "network plan applied"
        );
    }
    Ok(report)
}

fn ensure_netns(name: &str, report: &mut ApplyReport) -> Result<(), VnetError> {
    let list = run("ip", &words(&["netns", "list"]), None)?;
    let exists = list
        .lines()
        .any(|line| line.split_whitespace().next() == Some(name));
    if !exists {
        let command = words(&["netns", "add", name]);
        run("ip", &command, None)?;
        report.changes.push(format!("ip {}", command.join(" ")));
    }
    Ok(())
}

/// Runs `program args`, feeding `input`; its standard output, or the error as text.
fn run(program: &str, args: &[String], input: Option<&str>) -> Result<String, VnetError> {
    let failed = |reason: String| VnetError::Command {
        command: format!("{program} {}", args.join(" ")),
        reason,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| failed(e.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(failed(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

struct Namespace<'a>(&'a str);

/// An interface as `ip -o link show` reports it.
struct Link {
    up: bool,
    master: Option<String>,
}

impl Namespace<'_> {
    fn run(
        &self,
        program: &str,
        args: &[String],
        input: Option<&str>,
    ) -> Result<String, VnetError> {
        let mut all = words(&["netns", "exec", self.0, program]);
        all.extend_from_slice(args);
        run("ip", &all, input)
    }

    /// Runs a command that changes something; a failure is reported, not fatal.
    fn change(&self, program: &str, args: Vec<String>, report: &mut ApplyReport) -> bool {
        let text = format!("{program} {}", args.join(" "));
        match self.run(program, &args, None) {
            Ok(_) => {
                report.changes.push(text);
                true
            }
            Err(e) => {
                report.failures.push(e.to_string());
                false
            }
        }
    }

    fn links(&self) -> Result<BTreeMap<String, Link>, VnetError> {
        let text = self.run("ip", &words(&["-o", "link", "show"]), None)?;
        Ok(text.lines().filter_map(parse_link).collect())
    }

    fn apply_links(
        &self,
        config: &VnetConfig,
        plan: &Plan,
        report: &mut ApplyReport,
    ) -> Result<(), VnetError> {
        let mut links = self.links()?;
        // The uplinks the plan builds on. In the CC's own namespace they are bridges that
        // stand in for the host's interfaces until the operator moves real ones in.
        let planned: BTreeSet<&str> = plan.devices.iter().map(|d| d.name.as_str()).collect();
        let mut uplinks: BTreeSet<String> = plan
            .addresses
            .iter()
            .map(|a| a.device.clone())
            .filter(|d| !planned.contains(d.as_str()))
            .collect();
        if !plan.devices.is_empty() {
            uplinks.insert(config.priv_interface.clone());
        }
        for uplink in uplinks.into_iter().filter(|u| !links.contains_key(u)) {
            if self.change(
                "ip",
                words(&["link", "add", &uplink, "type", "bridge"]),
                report,
            ) {
                self.change("ip", words(&["link", "set", &uplink, "up"]), report);
            }
        }
        for device in &plan.devices {
            let needed: Vec<Vec<String>> = match links.get(&device.name) {
                None => device.commands(),
                Some(link) => {
                    let mut needed = Vec::new();
                    if link.master.as_deref() != device.master.as_deref() {
                        needed.extend(device.master_command());
                    }
                    if !link.up {
                        needed.push(device.up_command());
                    }
                    needed
                }
            };
            for command in needed {
                if !self.change("ip", command, report) {
                    break;
                }
            }
        }
        // Devices of networks that have stopped.
        links = self.links()?;
        let vlan_prefix = format!("{}.", config.priv_interface);
        for name in links.keys() {
            let ours = numbered(name, "eucabr") || numbered(name, &vlan_prefix);
            if ours && !planned.contains(name.as_str()) {
                self.change("ip", words(&["link", "del", name]), report);
            }
        }
        Ok(())
    }

    fn apply_addresses(
        &self,
        config: &VnetConfig,
        plan: &Plan,
        report: &mut ApplyReport,
    ) -> Result<(), VnetError> {
        let text = self.run("ip", &words(&["-o", "-4", "addr", "show"]), None)?;
        let current: BTreeSet<(String, String)> = text.lines().filter_map(parse_address).collect();
        let wanted: BTreeSet<(String, String)> = plan
            .addresses
            .iter()
            .map(|a| (a.device.clone(), a.cidr_text()))
            .collect();
        for address in &plan.addresses {
            if !current.contains(&(address.device.clone(), address.cidr_text())) {
                self.change("ip", address.command("add"), report);
            }
        }
        for (device, cidr) in current.difference(&wanted) {
            if owned_address(config, cidr) {
                self.change("ip", words(&["addr", "del", cidr, "dev", device]), report);
            }
        }
        Ok(())
    }

    fn apply_tables(&self, plan: &Plan, report: &mut ApplyReport) -> Result<(), VnetError> {
        let saved = self.run("iptables-save", &[], None)?;
        if normalize_iptables_save(&saved) != plan.iptables {
            self.run("iptables-restore", &[], Some(&plan.iptables))?;
            report.changes.push("iptables-restore (filter, nat)".into());
        }
        Ok(())
    }
}

/// Addresses the VM network manages: public ones from the pool, the metadata address, and
/// gateways inside VNET_SUBNET. Others on the namespace's interfaces are left alone.
fn owned_address(config: &VnetConfig, cidr: &str) -> bool {
    let Some((ip, prefix)) = cidr.split_once('/') else {
        return false;
    };
    let Ok(ip) = ip.parse::<Ipv4Addr>() else {
        return false;
    };
    match &config.addressing {
        Addressing::Managed {
            subnet, public_ips, ..
        } => {
            ip == METADATA_IP || subnet.contains(ip) || (prefix == "32" && public_ips.contains(&ip))
        }
        _ => false,
    }
}

/// `prefix` followed by digits only (`eucabr12`, `eth1.12`).
fn numbered(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()))
}

/// `2: eth1.10@eth1: <BROADCAST,UP,LOWER_UP> mtu 1500 ... master eucabr10 state UP ...`
fn parse_link(line: &str) -> Option<(String, Link)> {
    let mut fields = line.splitn(3, ": ");
    fields.next()?;
    let name = fields.next()?.split('@').next()?.to_owned();
    let rest = fields.next()?;
    let flags = rest.strip_prefix('<')?.split('>').next()?;
    let up = flags.split(',').any(|f| f == "UP");
    let mut words = rest.split_whitespace();
    let master = words
        .by_ref()
        .find(|w| *w == "master")
        .and_then(|_| words.next())
        .map(str::to_owned);
    Some((name, Link { up, master }))
}

/// `2: eucabr10    inet 10.0.0.1/27 brd 10.0.0.31 scope global eucabr10\ ...`
fn parse_address(line: &str) -> Option<(String, String)> {
    let mut words = line.split_whitespace();
    words.next()?;
    let device = words.next()?.to_owned();
    (words.next()? == "inet").then_some(())?;
    Some((device, words.next()?.to_owned()))
}

/// The filter and nat tables of `iptables-save` output in the form of [`Plan::iptables`]:
/// comments dropped, counters zeroed, other tables left out.
pub fn normalize_iptables_save(saved: &str) -> String {
    let mut tables: BTreeMap<&str, String> = BTreeMap::new();
    let mut current: Option<&str> = None;
    for line in saved.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(table) = line.strip_prefix('*') {
            current = Some(table);
        }
        let Some(table) = current else { continue };
        let line = match line.rsplit_once(" [") {
            Some((head, _)) if line.starts_with(':') => format!("{head} [0:0]"),
            _ => line.to_owned(),
        };
        let text = tables.entry(table).or_default();
        text.push_str(&line);
        text.push('\n');
        if line == "COMMIT" {
            current = None;
        }
    }
    ["filter", "nat"]
        .iter()
        .filter_map(|t| tables.remove(t))
        .collect()
}

/// Writes the DHCP configuration when it changed and (re)starts VNET_DHCPDAEMON on it in the
/// namespace, when one is set and there are hosts to serve (as the original: no hosts, no
/// daemon). A daemon already serving an unchanged configuration is left alone.
fn apply_dhcp(
    config: &VnetConfig,
    plan: &Plan,
    ns: &Namespace<'_>,
    conf: &str,
    state_dir: &Path,
    report: &mut ApplyReport,
) -> Result<(), VnetError> {
    let path = state_dir.join("euca-dhcp.conf");
    let io = |source| VnetError::StateDir {
        path: state_dir.to_owned(),
        source,
    };
    let changed = std::fs::read_to_string(&path).ok().as_deref() != Some(conf);
    if changed {
        write_atomically(&path, conf).map_err(io)?;
        report.changes.push(format!("wrote {}", path.display()));
    }
    let Some(daemon) = &config.dhcp_daemon else {
        return Ok(());
    };
    let pid_file = state_dir.join("euca-dhcp.pid");
    let running = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .filter(|pid| Path::new("/proc").join(pid.to_string()).exists());
    if !conf.contains("\nhost ") || (!changed && running.is_some()) {
        return Ok(());
    }
    if let Some(pid) = running {
        stop(pid, report);
    }
    let leases = state_dir.join("euca-dhcp.leases");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&leases)
        .map_err(io)?;
    // It serves the networks the CC is the router of.
    let mut interfaces: Vec<String> = plan
        .addresses
        .iter()
        .filter(|a: &&AddressSpec| a.broadcast.is_some())
        .map(|a| a.device.clone())
        .collect();
    interfaces.dedup();
    if interfaces.is_empty() {
        interfaces.push(config.priv_interface.clone());
    }
    let mut command = words(&["netns", "exec", ns.0, daemon]);
    for (flag, file) in [("-cf", &path), ("-lf", &leases), ("-pf", &pid_file)] {
        command.extend([flag.to_owned(), file.display().to_string()]);
    }
    command.extend(interfaces);
    let text = format!("ip {}", command.join(" "));
    // The daemon forks and keeps running: its output goes to a log, not to a pipe we read.
    let log_path = state_dir.join("euca-dhcp.log");
    let log = std::fs::File::create(&log_path).map_err(io)?;
    let status = Command::new("ip")
        .args(&command)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io)?)
        .stderr(log)
        .status();
    match status {
        Ok(status) if status.success() => report.changes.push(text),
        Ok(status) => {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(3).collect();
            report
                .failures
                .push(format!("{text}: {status}: {}", tail.join(" / ")));
        }
        Err(e) => report.failures.push(format!("{text}: {e}")),
    }
    Ok(())
}

/// Stops the daemon this network started (`pid` from its pid file) and waits, up to three
/// seconds, until it has let go of its sockets.
fn stop(pid: u32, report: &mut ApplyReport) {
    let command = vec![pid.to_string()];
    match run("kill", &command, None) {
        Ok(_) => report.changes.push(format!("kill {pid}")),
        Err(e) => report.failures.push(e.to_string()),
    }
    let proc = Path::new("/proc").join(pid.to_string());
    for _ in 0..60 {
        if !proc.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Replaces `path` with `text` so that readers see the old file or the new one, whole.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn links_are_read_from_ip_output() {
        let (name, link) = parse_link(
            "5: eth1.10@eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master eucabr10 state UP mode DEFAULT",
        )
        .unwrap();
        assert_eq!(name, "eth1.10");
        assert!(link.up);
        assert_eq!(link.master.as_deref(), Some("eucabr10"));
        let (name, link) = parse_link("1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN").unwrap();
        assert_eq!(name, "lo");
        assert!(!link.up && link.master.is_none());
        assert_eq!(
            parse_address("2: eucabr10    inet 10.0.0.1/27 brd 10.0.0.31 scope global eucabr10\\"),
            Some(("eucabr10".into(), "10.0.0.1/27".into()))
        );
        assert!(
            numbered("eucabr12", "eucabr")
                && !numbered("eucabr", "eucabr")
                && !numbered("eucabrx", "eucabr")
        );
    }

    #[test]
    fn saved_tables_lose_comments_counters_and_other_tables() {
        let saved = "# Generated by iptables-save\n*mangle\n:PREROUTING ACCEPT [1:2]\nCOMMIT\n\
            *nat\n:PREROUTING ACCEPT [3:4]\n-A PREROUTING -j ACCEPT\nCOMMIT\n# Completed\n\
            *filter\n:INPUT ACCEPT [5:6]\n:user-net - [0:0]\nCOMMIT\n";
        assert_eq!(
            normalize_iptables_save(saved),
            "*filter\n:INPUT ACCEPT [0:0]\n:user-net - [0:0]\nCOMMIT\n\
             *nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j ACCEPT\nCOMMIT\n"
        );
    }
}
