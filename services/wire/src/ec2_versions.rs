//! The EC2 API versions the CLC answers: those Eucalyptus 1.6.1 bound, each with its own
//! namespace (`http://ec2.amazonaws.com/doc/<version>/`). The messages of every version are
//! read and written with the 2009-04-04 types of [`crate::ec2`], renamed into the version's
//! namespace (`xmlbind::Document::rename_namespace`, `xmlbind::XmlWriter::rename_namespace`).

/// The bound versions, oldest first.
pub const VERSIONS: [&str; 13] = [
    "2006-06-26",
    "2006-10-01",
    "2007-01-03",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2008-02-01",
    "2008-05-05",
    "2008-08-08",
    "2008-12-01",
    "2009-03-01",
    "2009-04-04",
    "2009-07-15",
];

/// The namespace of each of [`VERSIONS`], in the same order.
pub const NAMESPACES: [&str; 13] = [
    "http://ec2.amazonaws.com/doc/2006-06-26/",
    "http://ec2.amazonaws.com/doc/2006-10-01/",
    "http://ec2.amazonaws.com/doc/2007-01-03/",
    "http://ec2.amazonaws.com/doc/2007-01-19/",
    "http://ec2.amazonaws.com/doc/2007-03-01/",
    "http://ec2.amazonaws.com/doc/2007-08-29/",
    "http://ec2.amazonaws.com/doc/2008-02-01/",
    "http://ec2.amazonaws.com/doc/2008-05-05/",
    "http://ec2.amazonaws.com/doc/2008-08-08/",
    "http://ec2.amazonaws.com/doc/2008-12-01/",
    "http://ec2.amazonaws.com/doc/2009-03-01/",
    "http://ec2.amazonaws.com/doc/2009-04-04/",
    "http://ec2.amazonaws.com/doc/2009-07-15/",
];

/// The namespace to answer a request of `version` in: the version's own when it is bound,
/// else (a Query request of a later or unknown version, or none) 2009-04-04's.
pub fn response_namespace(version: Option<&str>) -> &'static str {
    version
        .and_then(|v| VERSIONS.iter().position(|known| *known == v))
        .map_or(crate::ec2::NAMESPACE, |i| NAMESPACES[i])
}

/// Whether `namespace` is that of a bound version (a SOAP request's element namespace).
pub fn is_bound_namespace(namespace: &str) -> bool {
    NAMESPACES.contains(&namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_version_has_its_namespace_and_others_answer_in_2009_04_04() {
        for (version, namespace) in VERSIONS.iter().zip(NAMESPACES) {
            assert_eq!(
                namespace,
                format!("http://ec2.amazonaws.com/doc/{version}/")
            );
            assert_eq!(response_namespace(Some(version)), namespace);
            assert!(is_bound_namespace(namespace));
        }
        assert!(NAMESPACES.contains(&crate::ec2::NAMESPACE));
        for later in [Some("2016-11-15"), Some("2015-10-01"), Some(""), None] {
            assert_eq!(response_namespace(later), crate::ec2::NAMESPACE);
        }
        assert!(!is_bound_namespace(
            "http://ec2.amazonaws.com/doc/2016-11-15/"
        ));
    }

    /// Regression guard: the list is the original's, one binding file per version.
    #[test]
    fn the_versions_are_those_the_original_binds() {
        let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/eucalyptus-1.6.1/bindings");
        let Ok(entries) = std::fs::read_dir(&reference) else {
            println!("skipped: no reference");
            return;
        };
        let mut bound: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix("-binding.xml").map(str::to_owned))
            .filter(|name| name.starts_with("20"))
            .collect();
        bound.sort();
        assert_eq!(bound, VERSIONS);
    }
}
