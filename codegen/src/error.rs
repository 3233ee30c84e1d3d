//! Why a WSDL document could not be turned into Rust, with the place that says so.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in an input file: `file:line:column` when displayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<Path>,
    /// Index of the file among the generator's inputs, so that places sort in input order.
    pub input: usize,
    pub line: u32,
    pub column: u32,
}

impl Location {
    /// Orders places by input file, then by position in it.
    pub fn sort_key(&self) -> (usize, u32, u32) {
        (self.input, self.line, self.column)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("OUT_DIR is not set: codegen::build::compile runs in build scripts")]
    NotInBuildScript,
    #[error("{at}: {kind}")]
    Xml {
        at: Location,
        kind: xmlbind::ErrorKind,
    },
    #[error("{at}: unsupported XML Schema construct {construct}")]
    UnsupportedSchema { at: Location, construct: String },
    #[error("{at}: unsupported WSDL construct {construct}")]
    UnsupportedWsdl { at: Location, construct: String },
    #[error("{at}: {what} {name} is not defined")]
    Undefined {
        at: Location,
        what: &'static str,
        name: String,
    },
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
    /// `first` names the other construct and its place.
    #[error("{at}: {second} and {first} both become the Rust name {rust}")]
    NameClash {
        at: Location,
        second: String,
        first: String,
        rust: String,
    },
    /// The emitters produced tokens that are not a Rust file: a bug in the generator.
    #[error("{}: generated code does not parse ({source}); this is a bug in codegen", path.display())]
    Internal {
        path: PathBuf,
        #[source]
        source: syn::Error,
    },
}
