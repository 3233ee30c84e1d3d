//! The nodes a cluster's GL passes requests on to: one signed client per known node, found by
//! the GL URL the cloud controller names it with (the node's service tag with `EucalyptusNC`
//! replaced by `EucalyptusGL`). Any other tag is refused, so the service is never an open
//! proxy.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use soap::{ClientError, HttpTransport, Security};
use wire::gl::{EucalyptusGlClient, GetKeysResponseType, GetLogsResponseType};

use crate::error::{GlError, NodeAddressError};
use crate::SERVICE_PATH;

/// How long a node has to accept the connection, and to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) type NodeClient = EucalyptusGlClient<HttpTransport>;

/// The GL URL of the node listening on `address` (`HOST:PORT`).
pub fn node_gl_url(address: &str) -> String {
    format!("http://{address}{SERVICE_PATH}")
}

#[derive(Debug, Default)]
pub(crate) struct Nodes {
    by_url: HashMap<String, NodeClient>,
}

impl Nodes {
    /// Clients for the nodes at `addresses` (`HOST:PORT` each), signing and verifying as
    /// `security` says.
    pub(crate) fn new<A: AsRef<str>>(
        addresses: &[A],
        security: &Security,
    ) -> Result<Self, NodeAddressError> {
        let mut by_url = HashMap::new();
        for address in addresses {
            let address = address.as_ref();
            let url = node_gl_url(address);
            let transport = HttpTransport::builder(url.clone(), security.clone())
                .connect_timeout(CONNECT_TIMEOUT)
                .request_timeout(REQUEST_TIMEOUT)
                .build()
                .map_err(|source| NodeAddressError {
                    address: address.to_owned(),
                    source: Box::new(source),
                })?;
            by_url.insert(url, EucalyptusGlClient::new(transport));
        }
        Ok(Self { by_url })
    }

    /// The client of the node whose GL URL is `tag`.
    pub(crate) fn get(&self, tag: &str) -> Option<&NodeClient> {
        self.by_url.get(tag)
    }
}

/// A node's reply, which may say that the node failed.
pub(crate) trait Reply {
    /// The reason, when the reply says `return=false`.
    fn failure(&self) -> Option<&str>;
}

impl Reply for GetKeysResponseType {
    fn failure(&self) -> Option<&str> {
        failure(self.r#return, self.status_message.as_deref())
    }
}

impl Reply for GetLogsResponseType {
    fn failure(&self) -> Option<&str> {
        failure(self.r#return, self.status_message.as_deref())
    }
}

fn failure(done: Option<bool>, message: Option<&str>) -> Option<&str> {
    (done == Some(false)).then(|| message.unwrap_or("no reason given"))
}

/// The reply of `node` to a request passed on to it, or why there is none.
pub(crate) async fn forwarded<R: Reply>(
    node: &str,
    call: impl Future<Output = Result<R, ClientError>>,
) -> Result<R, GlError> {
    let reply = call.await.map_err(|source| GlError::Unreachable {
        node: node.to_owned(),
        source: Box::new(source),
    })?;
    match reply.failure() {
        Some(message) => Err(GlError::NodeFailed {
            node: node.to_owned(),
            message: message.to_owned(),
        }),
        None => Ok(reply),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_the_gl_urls_of_known_nodes_are_found() {
        let nodes = Nodes::new(&["10.0.0.5:8775", "node2:8775"], &Security::unsecured()).unwrap();
        assert!(nodes
            .get("http://10.0.0.5:8775/axis2/services/EucalyptusGL")
            .is_some());
        assert!(nodes
            .get("http://node2:8775/axis2/services/EucalyptusGL")
            .is_some());
        for stranger in [
            "http://10.0.0.6:8775/axis2/services/EucalyptusGL",
            "http://10.0.0.5:8775/axis2/services/EucalyptusNC",
            "http://10.0.0.5:8775/axis2/services/EucalyptusGL/",
            "10.0.0.5:8775",
        ] {
            assert!(nodes.get(stranger).is_none(), "{stranger} was found");
        }
    }

    #[test]
    fn an_address_that_makes_no_url_is_refused() {
        let err = Nodes::new(&["bad host:80"], &Security::unsecured()).unwrap_err();
        assert_eq!(err.address, "bad host:80");
    }
}
