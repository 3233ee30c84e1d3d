//! The EC2 Query client of a burst target: form-encoded POSTs signed with Signature Version 4
//! (`walrus::auth::v4::sign_request`, the canonical request and signing key the CLC's own
//! Query front door verifies with), answers read through the hardened XML parser by local
//! names, whatever API version's namespace the target answers in.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use walrus::auth::v4::{sign_request, SigningParams};
use walrus::digest::sha256_hex;
use walrus::uri::aws_encode;
use xmlbind::{Document, ElementRef};

/// The EC2 API version the client speaks (the requests' `Version`).
const API_VERSION: &str = "2016-11-15";
/// How long a target has to connect, and to answer a call (RunInstances may take longer).
const CONNECT_DEADLINE: Duration = Duration::from_secs(5);
const CALL_DEADLINE: Duration = Duration::from_secs(15);
const RUN_DEADLINE: Duration = Duration::from_secs(60);
/// The largest answer read (a DescribeInstances of thousands of instances).
const MAX_ANSWER: usize = 16 << 20;

/// Why a call to a burst target failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("endpoint {0:?} is not an http:// URL (the burst client speaks plain HTTP; put a TLS proxy in front of an https endpoint)")]
    Endpoint(String),
    #[error("cannot sign the request: {0}")]
    Sign(String),
    #[error("no answer: {0}")]
    Unreachable(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{code}: {message}")]
    Remote { code: String, message: String },
    #[error("an answer that is not EC2's: {0}")]
    Reply(String),
}

/// What the target reports of one of its instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteState {
    pub remote_id: String,
    /// EC2's state name: `pending`, `running`, `shutting-down`, `terminated`, ...
    pub state: String,
    pub private_ip: String,
    pub public_ip: String,
}

/// A signed EC2 Query client of one target.
#[derive(Debug, Clone)]
pub struct Ec2Client {
    endpoint: Uri,
    host: String,
    region: String,
    access_key: String,
    secret_key: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl Ec2Client {
    /// The client of the EC2 endpoint `endpoint` in `region`, with the given keys.
    pub fn new(
        endpoint: &str,
        region: &str,
        access_key: &str,
        secret_key: String,
    ) -> Result<Self, ClientError> {
        let uri = check_endpoint(endpoint)?;
        let host = uri
            .authority()
            .map(ToString::to_string)
            .ok_or_else(|| ClientError::Endpoint(endpoint.to_owned()))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_DEADLINE));
        Ok(Self {
            endpoint: uri,
            host,
            region: region.to_owned(),
            access_key: access_key.to_owned(),
            secret_key,
            http: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// RunInstances of `min`..`max` instances of `image` and `instance_type`; `token` (this
    /// cloud's reservation id) makes a retry find the first call's instances.
    pub async fn run_instances(
        &self,
        image: &str,
        instance_type: &str,
        min: u32,
        max: u32,
        token: &str,
    ) -> Result<Vec<RemoteState>, ClientError> {
        let params = [
            ("ImageId", image.to_owned()),
            ("InstanceType", instance_type.to_owned()),
            ("MinCount", min.to_string()),
            ("MaxCount", max.to_string()),
            ("ClientToken", token.to_owned()),
        ];
        let answer = self.call("RunInstances", &params, RUN_DEADLINE).await?;
        Ok(instances(answer.root()))
    }

    /// What the target reports of `remote_ids`: those it no longer knows are absent. Asked
    /// with an `instance-id` filter, which, unlike `InstanceId.N`, is no error for an id the
    /// target has forgotten.
    pub async fn describe_instances(
        &self,
        remote_ids: &[String],
    ) -> Result<Vec<RemoteState>, ClientError> {
        let mut params = vec![("Filter.1.Name", "instance-id".to_owned())];
        let names: Vec<String> = (1..=remote_ids.len())
            .map(|n| format!("Filter.1.Value.{n}"))
            .collect();
        params.extend(
            names
                .iter()
                .map(String::as_str)
                .zip(remote_ids.iter().cloned()),
        );
        let answer = self
            .call("DescribeInstances", &params, CALL_DEADLINE)
            .await?;
        Ok(instances(answer.root()))
    }

    pub async fn terminate_instances(&self, remote_ids: &[String]) -> Result<(), ClientError> {
        self.on_instances("TerminateInstances", remote_ids).await
    }

    pub async fn reboot_instances(&self, remote_ids: &[String]) -> Result<(), ClientError> {
        self.on_instances("RebootInstances", remote_ids).await
    }

    /// The console output of `remote_id`, base64 as EC2 answers it (empty when there is
    /// none yet).
    pub async fn console_output(&self, remote_id: &str) -> Result<String, ClientError> {
        let params = [("InstanceId", remote_id.to_owned())];
        let answer = self
            .call("GetConsoleOutput", &params, CALL_DEADLINE)
            .await?;
        Ok(child_text(answer.root(), "output"))
    }

    /// `action` on `remote_ids` (`InstanceId.N`), whose answer says nothing more.
    async fn on_instances(&self, action: &str, remote_ids: &[String]) -> Result<(), ClientError> {
        let names: Vec<String> = (1..=remote_ids.len())
            .map(|n| format!("InstanceId.{n}"))
            .collect();
        let params: Vec<(&str, String)> = names
            .iter()
            .map(String::as_str)
            .zip(remote_ids.iter().cloned())
            .collect();
        self.call(action, &params, CALL_DEADLINE).await?;
        Ok(())
    }

    /// Sends `action` with `params`, signed, and reads its answer; an EC2 error answer is
    /// [`ClientError::Remote`].
    async fn call(
        &self,
        action: &str,
        params: &[(&str, String)],
        deadline: Duration,
    ) -> Result<Document, ClientError> {
        let body = form(action, params);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.clone())
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|e| ClientError::Sign(e.to_string()))?;
        let headers = request.headers_mut();
        let header =
            |v: &str| HeaderValue::from_str(v).map_err(|e| ClientError::Sign(e.to_string()));
        headers.insert(HOST, header(&self.host)?);
        headers.insert(
            CONTENT_TYPE,
            header("application/x-www-form-urlencoded; charset=utf-8")?,
        );
        let signing = SigningParams {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            region: &self.region,
            service: "ec2",
            now: kit::time::now(),
        };
        sign_request(
            "POST",
            &aws_encode(self.endpoint.path().as_bytes(), true),
            "",
            headers,
            &sha256_hex(body.as_bytes()),
            &signing,
        )
        .map_err(|e| ClientError::Sign(e.to_string()))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| ClientError::Unreachable(e.to_string()))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| ClientError::Unreachable(e.to_string()))?
                .to_bytes();
            Ok::<_, ClientError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(deadline, exchange)
            .await
            .map_err(|_| ClientError::Timeout(deadline))??;
        let document = Document::parse(&bytes, &xmlbind::Limits::default())
            .map_err(|e| ClientError::Reply(format!("{status}: {e}")))?;
        if !status.is_success() {
            return Err(remote_error(document.root(), status));
        }
        Ok(document)
    }
}

/// `endpoint` when it is an `http://` URL with a host.
pub fn check_endpoint(endpoint: &str) -> Result<Uri, ClientError> {
    let uri: Uri = endpoint
        .parse()
        .map_err(|_| ClientError::Endpoint(endpoint.to_owned()))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(ClientError::Endpoint(endpoint.to_owned()));
    }
    Ok(uri)
}

/// The form body of `action` with `params`, as SigV4 hashes it and the target reads it.
fn form(action: &str, params: &[(&str, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = vec![("Action", action), ("Version", API_VERSION)];
    pairs.extend(params.iter().map(|(n, v)| (*n, v.as_str())));
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(n, v)| {
            format!(
                "{}={}",
                aws_encode(n.as_bytes(), false),
                aws_encode(v.as_bytes(), false)
            )
        })
        .collect();
    encoded.join("&")
}

/// The first element named `local` among `element`'s descendants (any namespace).
fn find<'a>(element: ElementRef<'a>, local: &str) -> Option<ElementRef<'a>> {
    element.elements().find_map(|child| {
        if child.name().local == local {
            Some(child)
        } else {
            find(child, local)
        }
    })
}

/// The text of `element`'s child `local`, empty when absent.
fn child_text(element: ElementRef<'_>, local: &str) -> String {
    element
        .elements()
        .find(|c| c.name().local == local)
        .and_then(|c| c.text().ok())
        .map(|t| t.trim().to_owned())
        .unwrap_or_default()
}

/// Every instance an answer lists: the items of each `instancesSet` (RunInstances' one,
/// DescribeInstances' one per reservation).
fn instances(root: ElementRef<'_>) -> Vec<RemoteState> {
    let mut found = Vec::new();
    collect_instances(root, &mut found);
    found
}

fn collect_instances(element: ElementRef<'_>, found: &mut Vec<RemoteState>) {
    for child in element.elements() {
        if child.name().local == "instancesSet" {
            found.extend(child.elements().filter_map(|item| {
                let remote_id = child_text(item, "instanceId");
                let state = find(item, "instanceState").map(|s| child_text(s, "name"));
                (!remote_id.is_empty()).then(|| RemoteState {
                    remote_id,
                    state: state.unwrap_or_default(),
                    private_ip: child_text(item, "privateIpAddress"),
                    public_ip: child_text(item, "ipAddress"),
                })
            }));
        } else {
            collect_instances(child, found);
        }
    }
}

/// EC2's error answer (`Response/Errors/Error/{Code,Message}`) as an error.
fn remote_error(root: ElementRef<'_>, status: hyper::StatusCode) -> ClientError {
    match find(root, "Error") {
        Some(error) => ClientError::Remote {
            code: child_text(error, "Code"),
            message: child_text(error, "Message"),
        },
        None => ClientError::Reply(format!("{status} without an EC2 error")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Document {
        Document::parse(text.as_bytes(), &xmlbind::Limits::default()).unwrap()
    }

    #[test]
    fn instances_are_read_from_run_and_describe_answers_in_any_version() {
        let run = parse(include_str!("fixtures/run_instances.xml"));
        assert_eq!(
            instances(run.root()),
            [RemoteState {
                remote_id: "i-0a1b2c3d4e5f60718".into(),
                state: "pending".into(),
                private_ip: "10.31.0.5".into(),
                public_ip: String::new(),
            }]
        );
        let describe = parse(include_str!("fixtures/describe_instances.xml"));
        let found: Vec<(String, String)> = instances(describe.root())
            .into_iter()
            .map(|i| (i.remote_id, i.state))
            .collect();
        assert_eq!(
            found,
            [
                ("i-0a1b2c3d4e5f60718".to_owned(), "running".to_owned()),
                ("i-0a1b2c3d4e5f60719".to_owned(), "terminated".to_owned()),
            ]
        );
    }

    #[test]
    fn an_error_answer_gives_its_code_and_message() {
        let error = parse(
            "<Response><Errors><Error><Code>InvalidAMIID.NotFound</Code>\
             <Message>The image id '[ami-1]' does not exist</Message></Error></Errors>\
             <RequestID>r</RequestID></Response>",
        );
        let ClientError::Remote { code, message } =
            remote_error(error.root(), hyper::StatusCode::BAD_REQUEST)
        else {
            panic!("not a remote error");
        };
        assert_eq!(code, "InvalidAMIID.NotFound");
        assert!(message.contains("ami-1"));
    }

    #[test]
    fn the_form_is_encoded_as_sigv4_hashes_it_and_endpoints_must_be_http() {
        assert_eq!(
            form("RunInstances", &[("ImageId", "ami-1 2/3".into())]),
            "Action=RunInstances&Version=2016-11-15&ImageId=ami-1%202%2F3"
        );
        assert!(check_endpoint("http://127.0.0.1:5000/").is_ok());
        for bad in ["https://ec2.amazonaws.com/", "ec2.amazonaws.com", "http://"] {
            assert!(
                matches!(check_endpoint(bad), Err(ClientError::Endpoint(_))),
                "{bad}"
            );
        }
    }
}
