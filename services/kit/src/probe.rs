//! Whether a component answers: its WSDL (`GET URL?wsdl`), which every SOAP service of the
//! cloud serves without credentials, read over HTTP (`euca status`, the console's health page).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Answered with its WSDL after this long.
    Up(Duration),
    /// Not answering, or not as a component of the cloud would.
    Down(String),
}

impl Health {
    pub fn is_up(&self) -> bool {
        matches!(self, Self::Up(_))
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Up(took) => write!(f, "up ({} ms)", took.as_millis()),
            Self::Down(why) => write!(f, "down: {why}"),
        }
    }
}

/// A client for probes; cheap to clone.
#[derive(Debug, Clone)]
pub struct Prober {
    client: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
}

impl Prober {
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        Self {
            // No pooled connections: each probe asks afresh, as a restarted component must
            // be found on a new connection.
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build(connector),
            timeout,
        }
    }

    /// Asks the service at `url` for its WSDL.
    pub async fn probe(&self, url: &str) -> Health {
        let started = Instant::now();
        let uri: Uri = match format!("{url}?wsdl").parse() {
            Ok(uri) => uri,
            Err(e) => return Health::Down(format!("bad URL {url}: {e}")),
        };
        let answer = async {
            let response = self
                .client
                .get(uri)
                .await
                .map_err(|e| soap::error_chain(&e))?;
            let status = response.status();
            // Read to the end: a WSDL cut short is no answer.
            response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(status)
        };
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(StatusCode::OK)) => Health::Up(started.elapsed()),
            Ok(Ok(status)) => Health::Down(format!("HTTP {status}")),
            Ok(Err(e)) => Health::Down(e),
            Err(_) => Health::Down(format!("no answer within {:?}", self.timeout)),
        }
    }

    /// Probes every URL at once; the answers in the order of `urls`.
    pub async fn probe_all(&self, urls: &[String]) -> Vec<Health> {
        let mut probes = tokio::task::JoinSet::new();
        for (index, url) in urls.iter().enumerate() {
            let (prober, url) = (self.clone(), url.clone());
            probes.spawn(async move { (index, prober.probe(&url).await) });
        }
        let mut healths = vec![Health::Down("not probed".into()); urls.len()];
        while let Some(joined) = probes.join_next().await {
            if let Ok((index, health)) = joined {
                healths[index] = health;
            }
        }
        healths
    }
}
