//! What the REST handlers share: the routed, authenticated request, the ACL it asks for,
//! and the shapes of replies.

use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};

use crate::acl::{Acl, AclRequest, Identity};
use crate::body::Body;
use crate::error::S3Error;
use crate::payload::Payload;
use crate::router::Route;
use crate::state::Walrus;
use crate::xml;

/// Part numbers S3 accepts.
pub const PART_NUMBERS: std::ops::RangeInclusive<u32> = 1..=10_000;

/// A routed, authenticated request, as handlers get it.
#[derive(Debug)]
pub struct Req {
    pub head: Parts,
    pub route: Route,
    pub who: Identity,
    pub body: Payload,
}

impl Req {
    /// The first value of a header, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `partNumber` query parameter, if given.
    pub fn part_number(&self) -> Result<Option<u32>, S3Error> {
        self.route
            .query
            .get("partNumber")
            .map(|n| {
                n.parse()
                    .ok()
                    .filter(|n| PART_NUMBERS.contains(n))
                    .ok_or_else(bad_part_number)
            })
            .transpose()
    }

    /// The ACL a `?acl` PUT sets: from its headers, or else from its `AccessControlPolicy`.
    pub async fn acl_to_set(self, walrus: &Walrus) -> Result<AclRequest, S3Error> {
        let directory = walrus.directory();
        let from_headers = Acl::from_headers(&self.head.headers, &directory)?;
        let body = self.body.read_all(xml::MAX_DOCUMENT).await?;
        match (from_headers, body.iter().all(u8::is_ascii_whitespace)) {
            (Some(acl), true) => Ok(acl),
            (Some(_), false) => Err(S3Error::InvalidRequest(
                "an ACL is given both in headers and in the body".into(),
            )),
            (None, false) => Ok(AclRequest::Grants(Acl::from_xml(&body, &directory)?)),
            (None, true) => Err(S3Error::MissingRequestBody),
        }
    }
}

/// A `partNumber` that is not an integer from 1 to 10,000.
pub fn bad_part_number() -> S3Error {
    S3Error::InvalidArgument("Part number must be an integer between 1 and 10000, inclusive".into())
}

/// A 200 reply carrying an S3 document.
pub fn xml_reply(document: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::full(document));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    response
}

/// A reply without a body.
pub fn empty_reply(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}
