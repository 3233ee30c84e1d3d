//! The messages and services of the Eucalyptus 1.6 SOAP interfaces, generated at build time
//! from the WSDL files in the workspace's `wsdl/` folder by the `codegen` crate.
//!
//! Each module holds, for one WSDL: its `NAMESPACE` and `WSDL` text, a type per schema type
//! (`xmlbind::FromXml` + `ToXml`), and per portType the operations table, the handler trait,
//! its dispatcher (a `soap::Service`) and a typed client. `cargo run -p codegen --
//! --catalog wsdl/eucalyptus_nc.wsdl` prints a module's code. With the `sample` feature every
//! type also implements `xmlbind::Sample`. Each module also holds its portTypes' requests as
//! data (`nc::EUCALYPTUS_NC_CATALOG`, all of them in [`catalog::SERVICES`]), from which
//! [`catalog::form`] lays out and builds any request.
//!
//! The EC2 modules ([`ec2`], [`ec2_additions`]) also carry the generated Query binding: the
//! requests implement [`query::FromQuery`], and `AmazonEc2PortTypeRequest` reads one from an
//! action and its parameters; [`ec2_query::parse`] is the CLC's entry point for a Query
//! request. The IAM module ([`iam`]) carries the AWS Query binding the same way, read by
//! [`iam_query::parse`], and so does the CloudWatch module ([`cloudwatch`]).

// The generated Query binding names `wire::query`, inside this crate as in the golden tests.
extern crate self as wire;

pub mod catalog;
pub mod ec2_query;
pub mod ec2_versions;
pub mod iam_query;
pub mod query;
pub mod sensors;
pub mod volume;

/// Includes the code generated from `wsdl/<name>.wsdl` by this crate's build script, like
/// tonic's `include_proto!`.
#[macro_export]
macro_rules! include_wsdl {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}

/// Node controller: `EucalyptusNC` (trait [`nc::EucalyptusNc`], server
/// [`nc::EucalyptusNcServer`], client [`nc::EucalyptusNcClient`]).
pub mod nc {
    crate::include_wsdl!("eucalyptus_nc");
}

/// Cluster controller: `EucalyptusCC`.
pub mod cc {
    crate::include_wsdl!("eucalyptus_cc");
}

/// Log and key gathering on cluster and node hosts: `EucalyptusGL`.
pub mod gl {
    crate::include_wsdl!("eucalyptus_gl");
}

/// The node controller's sensors, a service of ours beside `EucalyptusNC`:
/// `EucalyptusNCSensors` (`ncDescribeSensors`, the counters the node samples per instance).
pub mod nc_sensors {
    crate::include_wsdl!("eucalyptus_nc_sensors");

    /// Where a node serves it, beside `EucalyptusNC` on the same port.
    pub const SERVICE_PATH: &str = "/axis2/services/EucalyptusNCSensors";
}

/// The cluster controller's sensors, a service of ours beside `EucalyptusCC`:
/// `EucalyptusCCSensors` (`DescribeSensors`, what its polls gathered from its nodes).
pub mod cc_sensors {
    crate::include_wsdl!("eucalyptus_cc_sensors");

    /// Where a cluster serves it, beside `EucalyptusCC` on the same port.
    pub const SERVICE_PATH: &str = "/axis2/services/EucalyptusCCSensors";
}

/// The cluster controller's node registration, a service of ours beside `EucalyptusCC`:
/// `EucalyptusCCNodes` (`RegisterNodes`, `DeregisterNodes`: the cloud changes a running CC's
/// nodes).
pub mod cc_nodes {
    crate::include_wsdl!("eucalyptus_cc_nodes");

    /// Where a cluster serves it, beside `EucalyptusCC` on the same port.
    pub const SERVICE_PATH: &str = "/axis2/services/EucalyptusCCNodes";
}

/// Walrus' S3 SOAP interface (Amazon S3 2006-03-01): `AmazonS3`.
pub mod s3 {
    crate::include_wsdl!("s3");
}

/// Storage controller (EBS volumes and snapshots): `StorageController` (trait
/// [`storage::StorageController`], server [`storage::StorageControllerServer`], client
/// [`storage::StorageControllerClient`]).
pub mod storage {
    crate::include_wsdl!("storage_controller");
}

/// The cloud controller's EC2 API, version 2009-04-04: `AmazonEC2PortType` (trait
/// [`ec2::AmazonEc2PortType`], server [`ec2::AmazonEc2PortTypeServer`], client
/// [`ec2::AmazonEc2PortTypeClient`]), the operations Eucalyptus 1.6 implements.
pub mod ec2 {
    crate::include_wsdl!("ec2_2009-04-04");
}

/// EC2 operations newer than 2009-04-04 that current clients call first, in the 2009-04-04
/// namespace: `AmazonEC2AdditionsPortType` (`DescribeAccountAttributes`).
pub mod ec2_additions {
    crate::include_wsdl!("ec2_additions");
}

/// The IAM API, version 2010-05-08, as the CLC's Euare service answers it:
/// `IAMPortType` (users, groups, access keys, policies, and Eucalyptus's accounts), whose
/// requests also come over the AWS Query protocol ([`iam_query`]).
pub mod iam {
    crate::include_wsdl!("iam");
}

/// Amazon CloudWatch's API, version 2010-08-01, as the CLC answers it: `CloudWatchPortType`
/// (metrics, their statistics, alarms), whose requests come over the AWS Query protocol
/// (`CloudWatchPortTypeRequest::from_query`).
pub mod cloudwatch {
    crate::include_wsdl!("cloudwatch");
}
