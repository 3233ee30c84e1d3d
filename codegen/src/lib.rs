//! The WSDL → Rust generator of eucalyptus-rs.
//!
//! From a WSDL 1.1 document with embedded (or included) XML Schema it generates one Rust
//! file, meant to be `include!`d into a module, holding:
//!
//! - `NAMESPACE` and `WSDL` (the document itself, for `?wsdl`);
//! - a struct per complex type (`ncRunInstanceType` → `NcRunInstanceType`, fields in
//!   `snake_case`, a base type's fields first) implementing `xmlbind::FromXml` and `ToXml`;
//!   an enum per `xs:choice`, per enumeration, and per type other types extend where an
//!   element uses it (told apart by `xsi:type`; named after an abstract base, `Any<Base>` for
//!   a concrete one); `Box` where a type contains itself;
//! - `xmlbind::Sample` for each type, behind the including crate's `sample` feature;
//! - per portType (`EucalyptusNC`): the operations table (`EUCALYPTUS_NC_OPERATIONS`), an
//!   async trait with one method per operation (`EucalyptusNc`), a dispatcher implementing
//!   `soap::Service` (`EucalyptusNcServer`) and a client over any `soap::Transport`
//!   (`EucalyptusNcClient`);
//! - on request, per portType its requests' structure as data (`EUCALYPTUS_NC_CATALOG`, a
//!   `wire::catalog::Service`) and the Query binding of its requests.
//!
//! The input is parsed into a small model (`parse` → `model`) and each concern has its own
//! emitter (`emit`). Constructs outside the supported subset are errors naming the construct
//! and its place (`eucalyptus_nc.wsdl:12:7: unsupported XML Schema construct xs:all`), never
//! approximations. Build scripts use [`build::compile`]; the `codegen` binary prints the
//! generated code for review (`cargo run -p codegen -- wsdl/eucalyptus_nc.wsdl`).

pub mod build;
mod emit;
mod error;
mod model;
mod names;
mod parse;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use error::{Error, Location};

/// The Rust generated from one WSDL document.
#[derive(Debug, Clone)]
pub struct Generated {
    /// A formatted Rust file whose first line names its source.
    pub code: String,
    /// Every file read, canonical: the WSDL first, then included schemas.
    pub inputs: Vec<PathBuf>,
}

/// Settings of [`generate`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The path `WSDL`'s `include_str!` names. Default: the WSDL file's canonical path.
    pub wsdl_include_path: Option<String>,
    /// Also generate the Query binding of the requests, with these names.
    pub query: Option<QueryBinding>,
    /// Also generate, per portType, its requests' structure as data
    /// (`<PORT_TYPE>_CATALOG`, a `wire::catalog::Service`), for clients that build requests
    /// at run time.
    pub catalog: bool,
}

/// How the requests' fields are named as Query parameters: by the rules of
/// [`QueryBinding::protocol`], except for [`QueryBinding::renames`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryBinding {
    pub protocol: QueryProtocol,
    pub renames: Vec<QueryRename>,
}

/// The two spellings of Query parameters Amazon's APIs use (botocore's `ec2` and `query`
/// protocols).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueryProtocol {
    /// EC2's: an element's name with a capital, `Name.Field` nesting; a list type holds
    /// repeated `item`s, numbered `Name.N` (`Name.N.Field` when structured).
    #[default]
    Ec2,
    /// The AWS Query protocol as IAM speaks it: an element's name as it is, `Name.Field`
    /// nesting; a list type holds repeated `member`s, numbered `Name.member.N` (of simple
    /// values or, `Name.member.N.Field`, of structures).
    Aws,
}

/// The parameter name of element `element` of complex type `owner` (schema names), where the
/// rules do not give it: for a list of single values, the name numbered (`SecurityGroup.1`);
/// for a type holding one simple value, the parameter carrying it (`UserData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRename {
    pub owner: String,
    pub element: String,
    pub parameter: String,
}

impl QueryBinding {
    /// The names EC2's Query API of 2009-04-04 gives that its rules do not: `SecurityGroup.N`
    /// for RunInstances' `groupSet`, `ExecutableBy.N` for DescribeImages' `executableBySet`,
    /// and `UserData` for RunInstances' `userData/data`.
    pub fn ec2() -> Self {
        let rename = |owner: &str, element: &str, parameter: &str| QueryRename {
            owner: owner.to_owned(),
            element: element.to_owned(),
            parameter: parameter.to_owned(),
        };
        Self {
            protocol: QueryProtocol::Ec2,
            renames: vec![
                rename("RunInstancesType", "groupSet", "SecurityGroup"),
                rename("RunInstancesType", "userData", "UserData"),
                rename("DescribeImagesType", "executableBySet", "ExecutableBy"),
            ],
        }
    }

    /// The AWS Query protocol's rules alone, as IAM's API (2010-05-08) follows them.
    pub fn aws() -> Self {
        Self {
            protocol: QueryProtocol::Aws,
            renames: Vec::new(),
        }
    }
}

/// Generates Rust from the WSDL file at `path` with default [`Options`].
pub fn generate_file(path: &Path) -> Result<Generated, Error> {
    generate(path, &Options::default())
}

pub fn generate(path: &Path, options: &Options) -> Result<Generated, Error> {
    let (model, inputs) = parse::parse(path)?;
    let include = match (&options.wsdl_include_path, inputs.first()) {
        (Some(include), _) => include.clone(),
        (None, Some(wsdl)) => wsdl.to_string_lossy().into_owned(),
        (None, None) => path.to_string_lossy().into_owned(),
    };
    let code = emit::emit(&model, &include, options)?;
    Ok(Generated { code, inputs })
}
