//! A Query answer's document: the generated `wire::ec2` response of the operation's reply
//! written as its response element (`<{Action}Response>`), in the namespace of the API version the request named when it is one of those the
//! original bound (2006-06-26 to 2009-07-15), else in 2009-04-04's.

use soap::Reply;
use wire::ec2::NAMESPACE;
use wire::ec2_versions::response_namespace;
use xmlbind::XmlWriter;

/// The prefix the answer's namespace is bound to.
const PREFIX: &str = "ec2";

/// The XML document of `reply`, for a request of `version`.
pub fn document(version: Option<&str>, reply: &Reply) -> String {
    let mut w = XmlWriter::new();
    let namespace = response_namespace(version);
    w.rename_namespace(NAMESPACE, namespace);
    w.prefer_prefix(namespace, PREFIX);
    reply
        .body
        .to_xml(&mut w, Some(reply.namespace), reply.local);
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", w.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use wire::ec2::DeleteKeyPairResponseType;

    fn root_namespace(xml: &str) -> Option<String> {
        let root = xmlbind::parse(xml.as_bytes(), &xmlbind::Limits::default()).unwrap();
        assert!(root
            .elements()
            .all(|e| e.name.namespace == root.name.namespace));
        root.name.namespace.map(String::from)
    }

    #[test]
    fn answers_are_in_the_requests_bound_version_else_in_2009_04_04() {
        let response = || Reply {
            namespace: NAMESPACE,
            local: "DeleteKeyPairResponse",
            body: Box::new(DeleteKeyPairResponseType {
                request_id: "r".into(),
                r#return: true,
            }),
        };
        let older = document(Some("2008-12-01"), &response());
        assert_eq!(
            root_namespace(&older).as_deref(),
            Some("http://ec2.amazonaws.com/doc/2008-12-01/")
        );
        for version in [None, Some("2016-11-15"), Some("2009-04-04"), Some("x\"y")] {
            let xml = document(version, &response());
            assert_eq!(
                root_namespace(&xml).as_deref(),
                Some(NAMESPACE),
                "{version:?}"
            );
        }
    }
}
