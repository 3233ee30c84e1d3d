//! Between the generated S3 types and Walrus' own: ACLs go through the `AccessControlPolicy`
//! document both share (so SOAP grants are checked exactly as REST ones), times are S3's
//! milliseconds.

use wire::s3;
use xmlbind::{DateTime, FromXml, Limits, ToXml, XmlWriter};

use crate::acl::{Acl, AclRequest, Directory};
use crate::error::S3Error;

/// The ACL a SOAP request's list asks for, its grants checked exactly as REST's.
pub fn acl_from_wire(
    list: &s3::AccessControlList,
    directory: &dyn Directory,
) -> Result<AclRequest, S3Error> {
    // The policy's owner is not read: an ACL's owner is the resource's.
    let policy = s3::AccessControlPolicy {
        owner: s3::CanonicalUser {
            id: String::new(),
            display_name: None,
        },
        access_control_list: list.clone(),
    };
    let mut w = XmlWriter::new();
    policy.to_xml(&mut w, Some(s3::NAMESPACE), "AccessControlPolicy");
    Acl::from_xml(w.finish().as_bytes(), directory).map(AclRequest::Grants)
}

/// The policy of a resource owned by `owner`, as a SOAP reply holds it.
pub fn acl_to_wire(
    acl: &Acl,
    owner: &str,
    directory: &dyn Directory,
) -> Result<s3::AccessControlPolicy, S3Error> {
    let document = acl.to_xml(owner, directory);
    let root =
        xmlbind::Document::parse(&document, &Limits::default()).map_err(S3Error::internal)?;
    s3::AccessControlPolicy::from_xml(root.root()).map_err(S3Error::internal)
}

/// A time in milliseconds since the epoch as `xs:dateTime`.
pub fn date(millis: i64) -> DateTime {
    DateTime::from_unix(millis.div_euclid(1000))
}

/// The owner of a resource as S3 shows it.
pub fn owner(canonical_id: &str, directory: &dyn Directory) -> s3::CanonicalUser {
    s3::CanonicalUser {
        id: canonical_id.to_owned(),
        display_name: Some(directory.display_name(canonical_id)),
    }
}
