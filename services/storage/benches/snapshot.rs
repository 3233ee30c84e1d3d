//! Snapshot throughput: the SC's copy of a 1 GB volume (`files::copy_sparse`, what
//! CreateStorageSnapshot runs before any upload to Walrus) beside `cp` of the same file, for a
//! volume full of data and for a fresh (all holes) one. Both read a file the page cache holds
//! (it was just written), so the figures compare the copies, not the disk.
//!
//! `cargo bench -p storage`; `SNAPSHOT_BENCH_DIR` picks the folder (default: the system's
//! temporary one), which needs 2 GB free.

#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use storage::files::{copy_sparse, GB};

fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / seconds
}

/// Seconds `work` took.
fn timed(work: impl FnOnce()) -> f64 {
    let start = Instant::now();
    work();
    start.elapsed().as_secs_f64()
}

fn compare(label: &str, source: &Path, dir: &Path) {
    let ours = dir.join("snapshot");
    let theirs = dir.join("cp");
    let seconds = timed(|| {
        copy_sparse(source, &ours, |_| {}).unwrap();
    });
    std::fs::remove_file(&ours).unwrap();
    let cp = timed(|| {
        let status = Command::new("cp")
            .arg(source)
            .arg(&theirs)
            .status()
            .unwrap();
        assert!(status.success());
        // copy_sparse ends with fsync: so must cp, for a fair figure.
        File::open(&theirs).unwrap().sync_all().unwrap();
    });
    std::fs::remove_file(&theirs).unwrap();
    println!(
        "{label:<24} snapshot {:>8.0} MB/s ({seconds:.2} s)   cp {:>8.0} MB/s ({cp:.2} s)",
        mb_per_s(GB, seconds),
        mb_per_s(GB, cp)
    );
}

fn main() {
    let base = std::env::var_os("SNAPSHOT_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base).unwrap();
    let volume = dir.path().join("volume");

    // A volume full of data: 1 MiB of random bytes, repeated (no chunk is zeros).
    let mut chunk = vec![0u8; 1 << 20];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for byte in &mut chunk {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = (state as u8) | 1;
    }
    let mut file = File::create(&volume).unwrap();
    for _ in 0..GB / chunk.len() as u64 {
        file.write_all(&chunk).unwrap();
    }
    file.sync_all().unwrap();
    drop(file);
    compare("1 GB volume, full", &volume, dir.path());

    // A fresh volume: holes only.
    File::create(&volume).unwrap().set_len(GB).unwrap();
    compare("1 GB volume, empty", &volume, dir.path());
}
