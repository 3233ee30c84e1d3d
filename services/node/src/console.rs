//! Console output: the guest's serial console goes to a file in its work directory, and
//! ncGetConsoleOutput returns it base64-encoded, as the original did. The original sent the
//! first 64 KiB; this sends the last 64 KiB, which is what a user looking at a long-running
//! guest wants (and what EC2 returns).

use std::io::SeekFrom;
use std::path::Path;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Most bytes of console returned.
pub const MAX_CONSOLE: u64 = 64 * 1024;

/// The last `max` bytes of the log at `path`; nothing when the guest has written none yet.
pub async fn tail(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = file.metadata().await?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(max))).await?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes).await?;
    Ok(bytes)
}

pub fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_end_of_a_long_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        assert_eq!(tail(&log, 10).await.unwrap(), b"");
        std::fs::write(&log, b"0123456789abcdef").unwrap();
        assert_eq!(tail(&log, 6).await.unwrap(), b"abcdef");
        assert_eq!(tail(&log, 100).await.unwrap(), b"0123456789abcdef");
        assert_eq!(encode(b"boot ok\n"), "Ym9vdCBvawo=");
    }
}
