//! Access control lists: canned ACLs, grants from `x-amz-grant-*` headers and from
//! `AccessControlPolicy` documents, and the permission check every operation makes.

use bytes::Bytes;
use hyper::HeaderMap;
use users::User;
use xmlbind::Element;

use crate::error::S3Error;
use crate::xml::{self, S3Xml, XSI_NS};

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Who sends a request.
#[derive(Debug, Clone)]
pub enum Identity {
    Anonymous,
    User(Box<User>),
}

impl Identity {
    pub fn canonical_id(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::User(user) => Some(&user.canonical_id),
        }
    }

    /// Administrators pass every ACL check and bucket quota, as in the original.
    pub fn is_admin(&self) -> bool {
        matches!(self, Self::User(user) if user.admin)
    }

    /// The user, or AccessDenied for anonymous requests.
    pub fn user(&self) -> Result<&User, S3Error> {
        match self {
            Self::Anonymous => Err(S3Error::AccessDenied),
            Self::User(user) => Ok(user),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Permission {
    const ALL: [Self; 5] = [
        Self::Read,
        Self::Write,
        Self::ReadAcp,
        Self::WriteAcp,
        Self::FullControl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Write => "WRITE",
            Self::ReadAcp => "READ_ACP",
            Self::WriteAcp => "WRITE_ACP",
            Self::FullControl => "FULL_CONTROL",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == text)
    }

    /// The `x-amz-grant-*` header that grants this permission.
    fn header(self) -> &'static str {
        match self {
            Self::Read => "x-amz-grant-read",
            Self::Write => "x-amz-grant-write",
            Self::ReadAcp => "x-amz-grant-read-acp",
            Self::WriteAcp => "x-amz-grant-write-acp",
            Self::FullControl => "x-amz-grant-full-control",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    /// A user by canonical id (e-mail grants are resolved to this when stored, as S3 does).
    User(String),
    /// A predefined group, by URI.
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// The grants of a bucket or object; the owner is kept beside it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acl {
    pub grants: Vec<Grant>,
}

/// The ACL a request asks for, before its owner is known.
#[derive(Debug, Clone, Default)]
pub enum AclRequest {
    /// None: the owner's alone.
    #[default]
    Private,
    /// A canned ACL by its `x-amz-acl` name.
    Canned(String),
    /// Explicit grants, their grantees resolved.
    Grants(Acl),
}

impl AclRequest {
    /// The ACL of a resource owned by `owner` in a bucket owned by `bucket_owner` (the
    /// `bucket-owner-*` canned ACLs name it).
    pub fn resolve(self, owner: &str, bucket_owner: &str) -> Result<Acl, S3Error> {
        match self {
            Self::Private => Ok(Acl::private(owner)),
            Self::Canned(name) => Acl::canned(&name, owner, bucket_owner),
            Self::Grants(acl) => Ok(acl),
        }
    }
}

/// What ACLs need to know of users.
pub trait Directory {
    /// The canonical id of the user with this e-mail address.
    fn id_by_email(&self, email: &str) -> Result<Option<String>, S3Error>;
    fn user_exists(&self, canonical_id: &str) -> Result<bool, S3Error>;
    /// The display name shown for a canonical id.
    fn display_name(&self, canonical_id: &str) -> String;
}

impl Acl {
    fn with(owner: &str, extra: &[(Grantee, Permission)]) -> Self {
        let mut grants = vec![Grant {
            grantee: Grantee::User(owner.to_owned()),
            permission: Permission::FullControl,
        }];
        grants.extend(extra.iter().map(|(grantee, permission)| Grant {
            grantee: grantee.clone(),
            permission: *permission,
        }));
        Self { grants }
    }

    /// Whether both grant the same permissions to the same grantees, in whatever order.
    pub fn same_grants(&self, other: &Self) -> bool {
        let covers = |a: &Self, b: &Self| a.grants.iter().all(|g| b.grants.contains(g));
        covers(self, other) && covers(other, self)
    }

    /// Only the owner: what a resource gets without any ACL in its request.
    pub fn private(owner: &str) -> Self {
        Self::with(owner, &[])
    }

    /// A canned ACL by its `x-amz-acl` name. `bucket_owner` matters to the
    /// `bucket-owner-*` ACLs of objects.
    pub fn canned(name: &str, owner: &str, bucket_owner: &str) -> Result<Self, S3Error> {
        let group = |uri: &str| Grantee::Group(uri.to_owned());
        let bucket_owner = Grantee::User(bucket_owner.to_owned());
        Ok(match name {
            // aws-exec-read (what euca-upload-bundle asks for) lets EC2 read bundles; Walrus
            // reads them with its own rights, so for users it is private.
            "private" | "aws-exec-read" => Self::private(owner),
            "public-read" => Self::with(owner, &[(group(ALL_USERS), Permission::Read)]),
            "public-read-write" => Self::with(
                owner,
                &[
                    (group(ALL_USERS), Permission::Read),
                    (group(ALL_USERS), Permission::Write),
                ],
            ),
            "authenticated-read" => {
                Self::with(owner, &[(group(AUTHENTICATED_USERS), Permission::Read)])
            }
            "bucket-owner-read" => Self::with(owner, &[(bucket_owner, Permission::Read)]),
            "bucket-owner-full-control" => {
                Self::with(owner, &[(bucket_owner, Permission::FullControl)])
            }
            "log-delivery-write" => Self::with(
                owner,
                &[
                    (group(LOG_DELIVERY), Permission::Write),
                    (group(LOG_DELIVERY), Permission::ReadAcp),
                ],
            ),
            other => {
                return Err(S3Error::InvalidArgument(format!(
                    "unknown canned ACL {other:?}"
                )))
            }
        })
    }

    /// The ACL a request asks for with `x-amz-acl` or `x-amz-grant-*` headers, if any.
    pub fn from_headers(
        headers: &HeaderMap,
        directory: &dyn Directory,
    ) -> Result<Option<AclRequest>, S3Error> {
        let canned = headers
            .get("x-amz-acl")
            .map(|v| v.to_str().unwrap_or("").trim());
        let mut grants = Vec::new();
        for permission in Permission::ALL {
            for value in headers.get_all(permission.header()) {
                let value = value.to_str().map_err(|_| {
                    S3Error::InvalidArgument(format!("{} is not text", permission.header()))
                })?;
                for grantee in parse_grantee_list(value)? {
                    grants.push(Grant {
                        grantee: resolve(grantee, directory)?,
                        permission,
                    });
                }
            }
        }
        match (canned, grants.is_empty()) {
            (Some(_), false) => Err(S3Error::InvalidRequest(
                "Specifying both Canned ACLs and Header Grants is not allowed".into(),
            )),
            (Some(name), true) => Ok(Some(AclRequest::Canned(name.to_owned()))),
            (None, false) => Ok(Some(AclRequest::Grants(Self { grants }))),
            (None, true) => Ok(None),
        }
    }

    /// Reads an `AccessControlPolicy` document.
    pub fn from_xml(bytes: &[u8], directory: &dyn Directory) -> Result<Self, S3Error> {
        let root = xml::parse(bytes, "AccessControlPolicy")
            .map_err(|e| S3Error::MalformedAcl(e.to_string()))?;
        let list = xml::children(&root, "AccessControlList")
            .next()
            .ok_or_else(|| S3Error::MalformedAcl("no AccessControlList".into()))?;
        let mut grants = Vec::new();
        for grant in xml::children(list, "Grant") {
            let grantee = xml::children(grant, "Grantee")
                .next()
                .ok_or_else(|| S3Error::MalformedAcl("a Grant without Grantee".into()))?;
            let permission = xml::child_text(grant, "Permission")?
                .and_then(|p| Permission::parse(&p))
                .ok_or_else(|| {
                    S3Error::MalformedAcl("a Grant without a valid Permission".into())
                })?;
            grants.push(Grant {
                grantee: resolve(grantee_from_xml(grantee)?, directory)?,
                permission,
            });
        }
        Ok(Self { grants })
    }

    /// Writes the `AccessControlPolicy` document of a resource owned by `owner`.
    pub fn to_xml(&self, owner: &str, directory: &dyn Directory) -> Bytes {
        let mut doc = S3Xml::new("AccessControlPolicy");
        doc.start("Owner");
        doc.field("ID", owner);
        doc.field("DisplayName", &directory.display_name(owner));
        doc.end();
        doc.start("AccessControlList");
        for grant in &self.grants {
            doc.start("Grant");
            doc.start("Grantee");
            match &grant.grantee {
                Grantee::User(id) => {
                    doc.xsi_type("CanonicalUser");
                    doc.field("ID", id);
                    doc.field("DisplayName", &directory.display_name(id));
                }
                Grantee::Group(uri) => {
                    doc.xsi_type("Group");
                    doc.field("URI", uri);
                }
            }
            doc.end();
            doc.field("Permission", grant.permission.name());
            doc.end();
        }
        doc.end();
        doc.finish()
    }

    /// Whether `who` has `permission` on a resource owned by `owner` under this ACL.
    /// Administrators always do; owners always may read and change the ACL.
    pub fn permits(&self, owner: &str, who: &Identity, permission: Permission) -> bool {
        if who.is_admin() {
            return true;
        }
        let id = who.canonical_id();
        if id == Some(owner) && matches!(permission, Permission::ReadAcp | Permission::WriteAcp) {
            return true;
        }
        self.grants.iter().any(|grant| {
            (grant.permission == permission || grant.permission == Permission::FullControl)
                && match &grant.grantee {
                    Grantee::User(user) => id == Some(user.as_str()),
                    Grantee::Group(uri) => {
                        uri == ALL_USERS || (uri == AUTHENTICATED_USERS && id.is_some())
                    }
                }
        })
    }

    /// One grant a line: `user ID PERMISSION` or `group URI PERMISSION`.
    pub fn to_text(&self) -> String {
        self.grants
            .iter()
            .map(|g| {
                let (kind, who) = match &g.grantee {
                    Grantee::User(id) => ("user", id),
                    Grantee::Group(uri) => ("group", uri),
                };
                format!("{kind} {who} {}\n", g.permission.name())
            })
            .collect()
    }

    /// Reads [`Acl::to_text`]'s form; lines it does not understand are dropped.
    pub fn from_text(text: &str) -> Self {
        let grants = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split(' ');
                let grantee = match (fields.next()?, fields.next()?) {
                    ("user", id) => Grantee::User(id.to_owned()),
                    ("group", uri) => Grantee::Group(uri.to_owned()),
                    _ => return None,
                };
                let permission = Permission::parse(fields.next()?)?;
                Some(Grant {
                    grantee,
                    permission,
                })
            })
            .collect();
        Self { grants }
    }
}

/// A grantee as a request names it, before e-mail addresses are resolved.
#[derive(Debug, PartialEq, Eq)]
enum Named {
    Id(String),
    Email(String),
    Uri(String),
}

fn resolve(named: Named, directory: &dyn Directory) -> Result<Grantee, S3Error> {
    match named {
        Named::Id(id) => {
            if directory.user_exists(&id)? {
                Ok(Grantee::User(id))
            } else {
                Err(S3Error::InvalidArgument(format!("Invalid id: {id}")))
            }
        }
        Named::Email(email) => directory
            .id_by_email(&email)?
            .map(Grantee::User)
            .ok_or(S3Error::UnresolvableGrantByEmailAddress),
        Named::Uri(uri) => {
            if [ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY].contains(&uri.as_str()) {
                Ok(Grantee::Group(uri))
            } else {
                Err(S3Error::InvalidArgument(format!(
                    "Invalid group uri: {uri}"
                )))
            }
        }
    }
}

/// `id="...", emailAddress="...", uri="..."`, comma-separated.
fn parse_grantee_list(value: &str) -> Result<Vec<Named>, S3Error> {
    let bad = || S3Error::InvalidArgument(format!("invalid grant header value {value:?}"));
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (kind, quoted) = item.split_once('=').ok_or_else(bad)?;
            let text = quoted.trim().trim_matches('"').to_owned();
            match kind.trim().to_ascii_lowercase().as_str() {
                "id" => Ok(Named::Id(text)),
                "emailaddress" => Ok(Named::Email(text)),
                "uri" => Ok(Named::Uri(text)),
                _ => Err(bad()),
            }
        })
        .collect()
}

fn grantee_from_xml(grantee: &Element) -> Result<Named, S3Error> {
    let kind = grantee
        .attribute(Some(XSI_NS), "type")
        .map(|t| t.rsplit(':').next().unwrap_or(t).to_owned());
    let text = |name: &str| xml::child_text(grantee, name);
    let missing = |what: &str| S3Error::MalformedAcl(format!("a grantee without {what}"));
    match kind.as_deref() {
        Some("CanonicalUser") => Ok(Named::Id(text("ID")?.ok_or_else(|| missing("ID"))?)),
        Some("AmazonCustomerByEmail") => Ok(Named::Email(
            text("EmailAddress")?.ok_or_else(|| missing("EmailAddress"))?,
        )),
        Some("Group") => Ok(Named::Uri(text("URI")?.ok_or_else(|| missing("URI"))?)),
        Some(other) => Err(S3Error::MalformedAcl(format!(
            "unknown grantee type {other:?}"
        ))),
        // Without a type, the child says which kind it is.
        None => {
            if let Some(id) = text("ID")? {
                Ok(Named::Id(id))
            } else if let Some(email) = text("EmailAddress")? {
                Ok(Named::Email(email))
            } else if let Some(uri) = text("URI")? {
                Ok(Named::Uri(uri))
            } else {
                Err(missing("ID, EmailAddress or URI"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use hyper::header::HeaderValue;

    use super::*;

    struct Users;

    impl Directory for Users {
        fn id_by_email(&self, email: &str) -> Result<Option<String>, S3Error> {
            Ok((email == "bob@example.com").then(|| "bob-id".to_owned()))
        }
        fn user_exists(&self, id: &str) -> Result<bool, S3Error> {
            Ok(["alice-id", "bob-id"].contains(&id))
        }
        fn display_name(&self, id: &str) -> String {
            id.trim_end_matches("-id").to_owned()
        }
    }

    fn user(id: &str, admin: bool) -> Identity {
        Identity::User(Box::new(User {
            account: id.into(),
            canonical_id: id.into(),
            admin,
            enabled: true,
            ..User::default()
        }))
    }

    #[test]
    fn canned_acls_grant_what_their_names_say() {
        let alice = user("alice-id", false);
        let bob = user("bob-id", false);
        let private = Acl::canned("private", "alice-id", "alice-id").unwrap();
        assert!(private.permits("alice-id", &alice, Permission::Read));
        assert!(!private.permits("alice-id", &bob, Permission::Read));
        assert!(!private.permits("alice-id", &Identity::Anonymous, Permission::Read));
        assert!(private.permits("alice-id", &user("root", true), Permission::Write));

        let public = Acl::canned("public-read", "alice-id", "alice-id").unwrap();
        assert!(public.permits("alice-id", &Identity::Anonymous, Permission::Read));
        assert!(!public.permits("alice-id", &Identity::Anonymous, Permission::Write));

        let authenticated = Acl::canned("authenticated-read", "alice-id", "alice-id").unwrap();
        assert!(authenticated.permits("alice-id", &bob, Permission::Read));
        assert!(!authenticated.permits("alice-id", &Identity::Anonymous, Permission::Read));

        let for_bucket_owner =
            Acl::canned("bucket-owner-full-control", "bob-id", "alice-id").unwrap();
        assert!(for_bucket_owner.permits("bob-id", &alice, Permission::WriteAcp));
        assert!(Acl::canned("everyone", "a", "a").is_err());
    }

    #[test]
    fn owners_may_always_manage_the_acl() {
        let acl = Acl::default();
        let alice = user("alice-id", false);
        assert!(acl.permits("alice-id", &alice, Permission::ReadAcp));
        assert!(acl.permits("alice-id", &alice, Permission::WriteAcp));
        assert!(!acl.permits("alice-id", &alice, Permission::Read));
    }

    #[test]
    fn grant_headers_resolve_ids_emails_and_groups() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amz-grant-read",
            HeaderValue::from_static(
                r#"emailAddress="bob@example.com", uri="http://acs.amazonaws.com/groups/global/AllUsers""#,
            ),
        );
        headers.insert(
            "x-amz-grant-full-control",
            HeaderValue::from_static(r#"id="alice-id""#),
        );
        let acl = Acl::from_headers(&headers, &Users)
            .unwrap()
            .unwrap()
            .resolve("alice-id", "alice-id")
            .unwrap();
        assert_eq!(acl.grants.len(), 3);
        assert!(acl.permits("x", &user("bob-id", false), Permission::Read));
        assert!(acl.permits("x", &Identity::Anonymous, Permission::Read));

        headers.insert("x-amz-acl", HeaderValue::from_static("private"));
        assert!(matches!(
            Acl::from_headers(&headers, &Users),
            Err(S3Error::InvalidRequest(_))
        ));
        let mut unknown = HeaderMap::new();
        unknown.insert(
            "x-amz-grant-read",
            HeaderValue::from_static(r#"emailAddress="eve@example.com""#),
        );
        assert!(matches!(
            Acl::from_headers(&unknown, &Users),
            Err(S3Error::UnresolvableGrantByEmailAddress)
        ));
    }

    #[test]
    fn policy_documents_round_trip() {
        let acl = Acl {
            grants: vec![
                Grant {
                    grantee: Grantee::User("alice-id".into()),
                    permission: Permission::FullControl,
                },
                Grant {
                    grantee: Grantee::Group(ALL_USERS.into()),
                    permission: Permission::Read,
                },
            ],
        };
        let doc = acl.to_xml("alice-id", &Users);
        let text = String::from_utf8(doc.to_vec()).unwrap();
        assert!(
            text.contains(r#"<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>alice-id</ID><DisplayName>alice</DisplayName></Grantee>"#),
            "{text}"
        );
        assert_eq!(Acl::from_xml(&doc, &Users).unwrap(), acl);
        assert_eq!(Acl::from_text(&acl.to_text()), acl);
    }

    #[test]
    fn malformed_policies_are_refused() {
        for doc in [
            "<AccessControlPolicy/>",
            "<AccessControlPolicy><AccessControlList><Grant><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
            "<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>alice-id</ID></Grantee><Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>",
        ] {
            assert!(
                matches!(Acl::from_xml(doc.as_bytes(), &Users), Err(S3Error::MalformedAcl(_))),
                "{doc}"
            );
        }
    }
}
