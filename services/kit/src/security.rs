//! WS-Security of a component: its keys folder loaded into a signer and a verifier, under the
//! policy chosen with `--compat` / `WSSEC_COMPAT`.
//!
//! Strict by default: every message we send carries a signed `wsu:Timestamp`, and every
//! message we receive must carry one, signed, beside a signed Body. A signed message without a
//! Timestamp could be replayed forever. `--compat original` also accepts the original C
//! components' shapes: no Timestamp, and on CLC → CC only the WS-Addressing headers signed.
//! Such a message is still refused when its signature or signed `wsa:MessageID` was seen
//! before; it is remembered for [`UNTIMESTAMPED_MEMORY`] (within the replay cache's size).
//! With a replay journal, accepted messages are remembered across restarts too.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use settings::{Settings, SettingsError};
use soap::keys::{self, KeyError, KeyPair};
use soap::wss::{SignOptions, Verifier, VerifyOptions, WssError};

/// The settings key that chooses the policy, as `--compat` does.
pub const SETTINGS_KEY: &str = "WSSEC_COMPAT";

/// How long a message accepted without a Timestamp is remembered against replays.
pub const UNTIMESTAMPED_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// Which incoming message shapes a component accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Compat {
    /// Our own shape only: signed Body and signed Timestamp.
    #[default]
    Strict,
    /// Also the original Eucalyptus 1.6 components' shapes.
    Original,
}

impl Compat {
    /// What the verifier of incoming messages demands under this policy.
    pub fn verify_options(self) -> VerifyOptions {
        let options = match self {
            Self::Strict => VerifyOptions::default(),
            Self::Original => VerifyOptions::original_components(),
        };
        VerifyOptions {
            untimestamped_memory: UNTIMESTAMPED_MEMORY,
            ..options
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Original => "original",
        }
    }
}

impl fmt::Display for Compat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "strict" | "" => Ok(Self::Strict),
            "original" => Ok(Self::Original),
            other => Err(format!("unknown policy {other:?}: use strict or original")),
        }
    }
}

/// The `--compat` flag, flattened into each component's arguments.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CompatArgs {
    /// Also accept the original Eucalyptus components' WS-Security message shapes: no
    /// wsu:Timestamp, and (CLC to CC) only the WS-Addressing headers signed. A message without
    /// a Timestamp is still refused when its signature or signed wsa:MessageID was seen in the
    /// last 24 hours (among the last 100000 accepted messages, kept in the data folder across
    /// restarts). By default every request must carry a signed Timestamp
    /// [config: WSSEC_COMPAT].
    #[arg(long, value_name = "original|strict")]
    pub compat: Option<Compat>,
}

impl CompatArgs {
    /// The flag's policy, else the settings file's, else strict.
    pub fn resolve(&self, settings: &Settings) -> Result<Compat, SettingsError> {
        match self.compat {
            Some(compat) => Ok(compat),
            None => Ok(settings.parsed(SETTINGS_KEY)?.unwrap_or_default()),
        }
    }
}

/// Why a component's security could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("keys: {0}")]
    Keys(#[from] KeyError),
    #[error("WS-Security: {0}")]
    Wss(#[from] WssError),
}

/// A component's key pair and the WS-Security of its endpoints.
#[derive(Debug, Clone)]
pub struct ComponentKeys {
    /// `<role>-cert.pem` and `<role>-pk.pem`: for signatures other than WS-Security's.
    pub pair: KeyPair,
    /// Signs with the pair (Body, WS-Addressing headers and a Timestamp) and verifies with
    /// the trusted peers' certificates under the policy.
    pub security: soap::Security,
}

/// The replay journal's file name in a component's data folder.
pub const REPLAY_JOURNAL: &str = "replay.journal";

/// Loads `role`'s key pair and the certificates of the `trusted` roles from `dir`. With
/// `data`, the replay cache is kept in [`REPLAY_JOURNAL`] there, so it survives restarts.
pub fn load(
    dir: &Path,
    role: &str,
    trusted: &[&str],
    compat: Compat,
    data: Option<&Path>,
) -> Result<ComponentKeys, SecurityError> {
    let pair = KeyPair::load(dir, role)?;
    let peers = keys::load_certificates(dir, trusted)?;
    let signer = pair.signer(SignOptions::default())?;
    let mut verifier = Verifier::new(&peers, compat.verify_options())?;
    if let Some(data) = data {
        verifier = verifier.with_replay_journal(&data.join(REPLAY_JOURNAL))?;
    }
    Ok(ComponentKeys {
        pair,
        security: soap::Security::signed(Arc::new(signer), Arc::new(verifier)),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings::parse(text, Path::new("eucalyptus.conf")).unwrap()
    }

    #[test]
    fn the_flag_wins_over_the_file_and_strict_is_the_default() {
        let none = CompatArgs::default();
        assert_eq!(none.resolve(&Settings::default()).unwrap(), Compat::Strict);
        let file = settings("WSSEC_COMPAT=\"original\"\n");
        assert_eq!(none.resolve(&file).unwrap(), Compat::Original);
        let flag = CompatArgs {
            compat: Some(Compat::Strict),
        };
        assert_eq!(flag.resolve(&file).unwrap(), Compat::Strict);
        let err = none
            .resolve(&settings("WSSEC_COMPAT=lenient\n"))
            .unwrap_err();
        assert!(err.to_string().contains(SETTINGS_KEY), "{err}");
    }

    #[test]
    fn only_the_original_policy_waives_the_timestamp() {
        let strict = Compat::Strict.verify_options();
        assert!(strict.require_timestamp && strict.require_signature);
        assert_eq!(strict.compatibility, soap::wss::Compatibility::Strict);
        let original = Compat::Original.verify_options();
        assert!(!original.require_timestamp && original.require_signature);
        assert!(original.replay_cache_size > 0);
        assert_eq!(original.untimestamped_memory, UNTIMESTAMPED_MEMORY);
    }

    #[test]
    fn a_keys_folder_loads_into_a_signer_and_verifier() {
        let dir = tempfile::tempdir().unwrap();
        keys::init(dir.path()).unwrap();
        let loaded = load(
            dir.path(),
            "node",
            &["cluster"],
            Compat::Original,
            Some(dir.path()),
        )
        .unwrap();
        assert!(dir.path().join(REPLAY_JOURNAL).exists());
        let signer = loaded.security.signer().unwrap();
        assert!(signer.options().timestamp_ttl.is_some());
        assert_eq!(
            signer.certificate_der(),
            loaded.pair.certificate.to_der().unwrap()
        );
        let verifier = loaded.security.verifier().unwrap();
        assert_eq!(verifier.options(), &Compat::Original.verify_options());
        let missing = load(dir.path(), "node", &["nobody"], Compat::Strict, None).unwrap_err();
        assert!(matches!(missing, SecurityError::Keys(_)), "{missing}");
    }
}
