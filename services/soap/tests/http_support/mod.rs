//! What the HTTP tests share: a small hand-written service, a server on an ephemeral loopback
//! port, a raw HTTP/1.1 requester for messages a SOAP client would never send, and keys.

// Each test crate uses a different part of this module.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use soap::keys::KeyPair;
use soap::{
    BoxFuture, ClientError, Fault, HttpTransport, Operation, Reply, RequestContext, Security,
    Server, ServerBuilder, Service, Transport,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use xmlbind::{Children, ElementRef, ToXml, XmlWriter};

pub const NS: &str = "urn:test:echo";
pub const PATH: &str = "/axis2/services/Echo";

pub static ECHO: Operation = Operation {
    name: "Echo",
    soap_action: "Echo#Echo",
    request: (NS, "Echo"),
    response: (NS, "EchoResponse"),
};
pub static FAIL: Operation = Operation {
    name: "Fail",
    soap_action: "Echo#Fail",
    request: (NS, "Fail"),
    response: (NS, "FailResponse"),
};
pub static SLOW: Operation = Operation {
    name: "Slow",
    soap_action: "Echo#Slow",
    request: (NS, "Slow"),
    response: (NS, "SlowResponse"),
};
static OPERATIONS: [Operation; 3] = [ECHO, FAIL, SLOW];

pub const WSDL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" targetNamespace="urn:test:echo">
  <wsdl:service name="Echo">
    <wsdl:port name="EchoPort" binding="tns:EchoBinding" xmlns:tns="urn:test:echo">
      <soap:address location="http://localhost:8080/axis2/services/Echo"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"#;

/// The request of every test operation: one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl ToXml for Text {
    fn write_content(&self, w: &mut XmlWriter) {
        self.0.to_xml(w, Some(NS), "text");
    }
}

/// What `Echo` answers: the text and what the server told the handler about the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echoed {
    pub text: String,
    pub soap_action: String,
    pub message_id: String,
    /// [`fingerprint`] of the certificate the server verified the request with; empty for an
    /// unsigned request.
    pub signer: String,
}

impl ToXml for Echoed {
    fn write_content(&self, w: &mut XmlWriter) {
        self.text.to_xml(w, Some(NS), "text");
        self.soap_action.to_xml(w, Some(NS), "soapAction");
        self.message_id.to_xml(w, Some(NS), "messageId");
        self.signer.to_xml(w, Some(NS), "signer");
    }
}

impl Echoed {
    pub fn read(element: ElementRef<'_>) -> Self {
        let mut c = Children::new(element).unwrap();
        let echoed = Self {
            text: c.required(Some(NS), "text").unwrap(),
            soap_action: c.required(Some(NS), "soapAction").unwrap(),
            message_id: c.required(Some(NS), "messageId").unwrap(),
            signer: c.required(Some(NS), "signer").unwrap(),
        };
        c.finish().unwrap();
        echoed
    }
}

/// `Echo` echoes, `Fail` fails with a Server fault, `Slow` waits the given milliseconds.
#[derive(Debug, Default, Clone)]
pub struct EchoService {
    /// How many `Slow` calls have started: tests wait on it to know a request is in flight.
    pub slow_started: Arc<AtomicUsize>,
}

impl EchoService {
    /// Waits until `count` `Slow` calls have reached the handler.
    pub async fn wait_for_slow_calls(&self, count: usize) {
        while self.slow_started.load(Ordering::SeqCst) < count {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Service for EchoService {
    fn name(&self) -> &'static str {
        "Echo"
    }

    fn wsdl(&self) -> &'static str {
        WSDL
    }

    fn operations(&self) -> &'static [Operation] {
        &OPERATIONS
    }

    fn call<'a>(
        &'a self,
        operation: &'static Operation,
        body: ElementRef<'a>,
        context: RequestContext,
    ) -> BoxFuture<'a, Result<Reply, Fault>> {
        Box::pin(async move {
            let text = body
                .child(Some(NS), "text")
                .and_then(|t| t.text().ok())
                .map(String::from)
                .ok_or_else(|| Fault::client("no text"))?;
            match operation.name {
                "Echo" => Ok(Reply {
                    namespace: NS,
                    local: "EchoResponse",
                    body: Box::new(Echoed {
                        text,
                        soap_action: context.soap_action.unwrap_or_default(),
                        message_id: context.message_id.unwrap_or_default(),
                        signer: context
                            .signer_certificate
                            .as_deref()
                            .map(fingerprint)
                            .unwrap_or_default(),
                    }),
                }),
                "Fail" => Err(Fault::server("disk on fire").with_detail(text)),
                "Slow" => {
                    self.slow_started.fetch_add(1, Ordering::SeqCst);
                    let ms = text.parse().map_err(|_| Fault::client("not a number"))?;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(Reply {
                        namespace: NS,
                        local: "SlowResponse",
                        body: Box::new(Text(text)),
                    })
                }
                other => Err(Fault::client(format!("unknown operation {other}"))),
            }
        })
    }
}

/// SHA-256 of a certificate's DER, in hex.
pub fn fingerprint(der: &[u8]) -> String {
    // A SHA context, not OpenSSL's one-shot digest, which looks the algorithm up by name on
    // each call: this runs in every round trip the benchmark measures.
    let mut hasher = openssl::sha::Sha256::new();
    hasher.update(der);
    hasher
        .finish()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// A server running on a loopback port until `stop` is called.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<()>,
}

impl Running {
    pub async fn start(builder: ServerBuilder) -> Self {
        let server = builder.bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// A server with [`EchoService`] at [`PATH`].
    pub async fn echo(security: Security) -> Self {
        Self::start(Server::builder().mount(PATH, EchoService::default(), security)).await
    }

    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    /// Starts the graceful shutdown; await `task` to see it finish.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn transport(url: &str, security: Security) -> HttpTransport {
    HttpTransport::builder(url, security).build().unwrap()
}

pub async fn echo(transport: &HttpTransport, text: &str) -> Result<Echoed, ClientError> {
    transport
        .call(&ECHO, &Text(text.to_owned()))
        .await
        .map(|e| Echoed::read(e.root()))
}

/// An HTTP response as read off the socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The fault in the body: (faultcode or Code/Value text, faultstring or Reason/Text).
    pub fn fault(&self) -> (String, String) {
        let root = xmlbind::parse(&self.body, &xmlbind::Limits::default()).unwrap();
        let body = root.elements().find(|e| e.name.local == "Body").unwrap();
        let fault = body.elements().next().unwrap();
        assert_eq!(fault.name.local, "Fault", "{}", self.text());
        let leaf_text = |path: &[&str]| {
            let mut e = fault;
            for local in path {
                e = e.elements().find(|c| c.name.local == *local)?;
            }
            e.text().ok()
        };
        let code = leaf_text(&["faultcode"])
            .or_else(|| leaf_text(&["Code", "Value"]))
            .unwrap();
        let string = leaf_text(&["faultstring"])
            .or_else(|| leaf_text(&["Reason", "Text"]))
            .unwrap();
        (code, string)
    }
}

/// Sends `request` (a whole HTTP/1.1 message) on `stream` and reads one response.
pub async fn exchange(stream: &mut TcpStream, request: &[u8]) -> RawResponse {
    stream.write_all(request).await.unwrap();
    read_response(stream).await
}

/// Reads one response with a Content-Length body.
pub async fn read_response(stream: &mut (impl AsyncRead + Unpin)) -> RawResponse {
    let (head, body) = read_message(stream).await;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    RawResponse {
        status,
        headers: header_lines(lines),
        body,
    }
}

/// Reads one request with a Content-Length body: its headers and body.
pub async fn read_request(stream: &mut TcpStream) -> (Vec<(String, String)>, Vec<u8>) {
    let (head, body) = read_message(stream).await;
    (header_lines(head.split("\r\n").skip(1)), body)
}

fn header_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// The head (start line and headers) and the Content-Length body of one HTTP message.
async fn read_message(stream: &mut (impl AsyncRead + Unpin)) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(
            n > 0,
            "connection closed before a whole message: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let length: usize = header_lines(head.split("\r\n"))
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed inside the body");
        body.extend_from_slice(&chunk[..n]);
    }
    (head, body)
}

/// A POST of `body` to `path` with extra header lines (each ending in `\r\n`).
pub fn post(path: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// An unsigned SOAP 1.1 envelope around `payload`.
pub fn envelope11(payload: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{payload}</s:Body></s:Envelope>"#
    )
}

/// An unsigned SOAP 1.2 envelope around `payload`.
pub fn envelope12(payload: &str) -> String {
    format!(
        r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>{payload}</e:Body></e:Envelope>"#
    )
}

pub fn echo_payload(text: &str) -> String {
    format!(r#"<t:Echo xmlns:t="{NS}"><t:text>{text}</t:text></t:Echo>"#)
}

/// Key pairs for a server, its client and a stranger neither trusts, generated once per test
/// binary (RSA key generation is slow).
pub struct Keys {
    pub server: KeyPair,
    pub client: KeyPair,
    pub stranger: KeyPair,
}

impl Keys {
    pub fn shared() -> &'static Keys {
        static KEYS: OnceLock<Keys> = OnceLock::new();
        KEYS.get_or_init(|| Keys {
            server: KeyPair::generate("node").unwrap(),
            client: KeyPair::generate("cluster").unwrap(),
            stranger: KeyPair::generate("cloud").unwrap(),
        })
    }
}
