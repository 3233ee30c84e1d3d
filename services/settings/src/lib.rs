//! Settings files in the shape of the original's `eucalyptus.conf`: `KEY="value"` or
//! `key=value` lines, blank lines and `#` comments. Every component reads its file through
//! [`Settings`], so they all accept the same syntax and report mistakes the same way.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Why a settings file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected KEY=\"value\", found {text:?}")]
    Syntax {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// The values of one settings file. Keys are case-insensitive: the original's shell-style
/// files use `NC_PORT`, its Walrus settings `storage_dir`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settings(HashMap<String, String>);

impl Settings {
    /// The settings of `file`, or none when no file is given (a component run on flags alone).
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        file.map_or_else(|| Ok(Self::default()), Self::read)
    }

    pub fn read(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Reads `KEY=value` lines, the value optionally in single or double quotes. A later line
    /// wins, as when the original's scripts source the file. `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SettingsError> {
        let mut values = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let syntax = || SettingsError::Syntax {
                path: path.to_owned(),
                line: index + 1,
                text: raw.to_owned(),
            };
            let (key, value) = line.split_once('=').ok_or_else(syntax)?;
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(syntax());
            }
            values.insert(key.to_ascii_lowercase(), unquote(value.trim()).to_owned());
        }
        Ok(Self(values))
    }

    /// The value of `key`, if the file sets it.
    pub fn text(&self, key: &str) -> Option<String> {
        self.0.get(&key.to_ascii_lowercase()).cloned()
    }

    /// The value of `key` parsed as `T`; an unparsable value names the key.
    pub fn parsed<T: FromStr>(&self, key: &'static str) -> Result<Option<T>, SettingsError>
    where
        T::Err: fmt::Display,
    {
        self.text(key)
            .map(|value| {
                value.parse().map_err(|e| SettingsError::Invalid {
                    key,
                    reason: format!("{value:?}: {e}"),
                })
            })
            .transpose()
    }

    /// Where a component listens: `given` (its --listen flag) if any, else every address on
    /// the port `port_key` sets, else on `default_port`.
    pub fn listen(
        &self,
        given: Option<SocketAddr>,
        port_key: &'static str,
        default_port: u16,
    ) -> Result<SocketAddr, SettingsError> {
        match given {
            Some(addr) => Ok(addr),
            None => {
                let port = self.parsed(port_key)?.unwrap_or(default_port);
                Ok(SocketAddr::from(([0, 0, 0, 0], port)))
            }
        }
    }
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        Settings::parse(text, Path::new("eucalyptus.conf"))
    }

    #[test]
    fn the_listen_address_is_the_flag_else_the_port_setting_else_the_default() {
        let s = parse("CC_PORT=8780\nBAD_PORT=x\n").unwrap();
        let flag = "127.0.0.1:9".parse().unwrap();
        assert_eq!(s.listen(Some(flag), "CC_PORT", 8774).unwrap(), flag);
        assert_eq!(
            s.listen(None, "CC_PORT", 8774).unwrap(),
            "0.0.0.0:8780".parse().unwrap()
        );
        assert_eq!(
            s.listen(None, "NC_PORT", 8775).unwrap(),
            "0.0.0.0:8775".parse().unwrap()
        );
        let err = s.listen(None, "BAD_PORT", 1).unwrap_err();
        assert!(err.to_string().contains("BAD_PORT"), "{err}");
        assert_eq!(Settings::load(None).unwrap(), Settings::default());
    }

    #[test]
    fn reads_quoted_and_bare_values_with_comments() {
        let s = parse(
            "# node\nNC_PORT=\"8775\"\n\n  HYPERVISOR = 'kvm'\nstorage_dir=/var/w\nNC_PORT=9000\n",
        )
        .unwrap();
        assert_eq!(s.parsed::<u16>("NC_PORT").unwrap(), Some(9000));
        assert_eq!(s.text("hypervisor").as_deref(), Some("kvm"));
        assert_eq!(s.text("STORAGE_DIR").as_deref(), Some("/var/w"));
        assert_eq!(s.text("MAX_MEM"), None);
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let err = parse("A=1\nHYPERVISOR kvm\n").unwrap_err();
        assert!(
            matches!(err, SettingsError::Syntax { line: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().starts_with("eucalyptus.conf:2:"), "{err}");
        assert!(matches!(
            parse("BAD KEY=1\n"),
            Err(SettingsError::Syntax { .. })
        ));
    }

    #[test]
    fn unparsable_values_name_their_key() {
        let err = parse("MAX_MEM=lots\n")
            .unwrap()
            .parsed::<u64>("MAX_MEM")
            .unwrap_err();
        assert!(
            err.to_string().starts_with("setting MAX_MEM: \"lots\""),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = Settings::read(&dir.path().join("absent.conf")).unwrap_err();
        assert!(err.to_string().contains("absent.conf"), "{err}");
    }
}
