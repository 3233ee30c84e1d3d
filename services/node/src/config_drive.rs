//! The config disk: what the guest is told about itself, the keypair's public key first.
//!
//! The original wrote the key into the root file system by loop-mounting it as root; a
//! copy-on-write root cannot be written that way. Instead the instance gets a read-only
//! disk holding a POSIX tar archive of small files, which needs no tool to make and which a
//! guest reads with `tar -x -f /dev/vdd` (the disk after root, ephemeral and swap; on Xen,
//! the last `sdaN`):
//!
//! | file | content |
//! |---|---|
//! | `instance-id`, `reservation-id`, `launch-index` | as given to ncRunInstance |
//! | `openssh-key` | the keypair's public key (the original's keyName), when there is one |
//! | `user-data` | the user data, base64-decoded when it decodes |
//! | `security-groups` | the group names, one a line |

use base64::Engine;

use crate::instances::InstanceRecord;

const BLOCK: usize = 512;

/// The config disk's bytes for `record`.
pub fn archive(record: &InstanceRecord) -> Vec<u8> {
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("instance-id", line(&record.instance_id)),
        ("reservation-id", line(&record.reservation_id)),
        (
            "launch-index",
            line(record.launch_index.as_deref().unwrap_or("0")),
        ),
    ];
    if !record.key_name.trim().is_empty() {
        files.push(("openssh-key", line(record.key_name.trim())));
    }
    if let Some(data) = &record.user_data {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .unwrap_or_else(|_| data.as_bytes().to_vec());
        files.push(("user-data", decoded));
    }
    let groups: String = record
        .group_names
        .iter()
        .map(|g| format!("{g}\n"))
        .collect();
    files.push(("security-groups", groups.into_bytes()));
    tar(&files, record.launch_time)
}

fn line(text: &str) -> Vec<u8> {
    format!("{text}\n").into_bytes()
}

/// A ustar archive of regular files, owned by root and readable by all.
fn tar(files: &[(&str, Vec<u8>)], mtime: i64) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut header = [0u8; BLOCK];
        put(&mut header[0..100], name.as_bytes());
        put(&mut header[100..108], b"0000644");
        put(&mut header[108..116], b"0000000");
        put(&mut header[116..124], b"0000000");
        put(
            &mut header[124..136],
            format!("{:011o}", data.len()).as_bytes(),
        );
        put(
            &mut header[136..148],
            format!("{:011o}", mtime.max(0)).as_bytes(),
        );
        header[148..156].fill(b' ');
        header[156] = b'0';
        put(&mut header[257..263], b"ustar\0");
        put(&mut header[263..265], b"00");
        put(&mut header[265..297], b"root");
        put(&mut header[297..329], b"root");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        put(&mut header[148..156], format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    // Two empty blocks end the archive.
    out.resize(out.len() + 2 * BLOCK, 0);
    out
}

/// Copies `value` into `field`, truncating what does not fit (names here are short).
fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::instances::testing::record;
    use std::process::Command;

    /// The archive is read back by the system's tar, as a guest would read it.
    #[test]
    fn tar_reads_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("config.tar");
        std::fs::write(&disk, archive(&record("i-12345678"))).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let status = Command::new("tar")
            .arg("-xf")
            .arg(&disk)
            .arg("-C")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
        assert_eq!(read("instance-id"), "i-12345678\n");
        assert_eq!(read("openssh-key"), "ssh-rsa AAAA user@host\n");
        assert_eq!(read("user-data"), "user");
        assert_eq!(read("security-groups"), "default\nweb\n");
        assert_eq!(read("launch-index"), "0\n");
    }

    #[test]
    fn no_key_file_without_a_key() {
        let mut r = record("i-1");
        r.key_name.clear();
        let bytes = archive(&r);
        assert!(!bytes.windows(11).any(|w| w == b"openssh-key"));
        assert_eq!(bytes.len() % BLOCK, 0);
    }
}
