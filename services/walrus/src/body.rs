//! Response bodies: nothing, a document in memory, or a stream fed by a task through a
//! small bounded channel (object contents read from the backend), so that memory use does
//! not grow with object size and a slow client slows the reader down.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::sync::mpsc;

/// Chunks in flight between the reading task and the connection.
const CHANNEL_DEPTH: usize = 4;

/// The body of every Walrus response (and of the requests it sends to a remote store).
#[derive(Debug)]
pub struct Body(Kind);

#[derive(Debug)]
enum Kind {
    Full(Option<Bytes>),
    Channel {
        receiver: mpsc::Receiver<io::Result<Bytes>>,
        /// Bytes still to come, when known.
        remaining: Option<u64>,
    },
}

/// The writing end of [`Body::channel`].
#[derive(Debug)]
pub struct BodySender(mpsc::Sender<io::Result<Bytes>>);

/// The receiving side went away: the client disconnected.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the client went away")]
pub struct Disconnected;

impl BodySender {
    pub async fn send(&self, data: Bytes) -> Result<(), Disconnected> {
        self.0.send(Ok(data)).await.map_err(|_| Disconnected)
    }

    /// Ends the body with an error: the connection is closed mid-body, so the client
    /// sees a short read rather than a complete-looking object.
    pub async fn fail(self, error: io::Error) {
        let _ = self.0.send(Err(error)).await;
    }
}

impl Body {
    pub fn empty() -> Self {
        Self(Kind::Full(None))
    }

    pub fn full(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        Self(Kind::Full((!data.is_empty()).then_some(data)))
    }

    /// A streamed body of `len` bytes (when known) and the sender that feeds it.
    pub fn channel(len: Option<u64>) -> (BodySender, Self) {
        let (sender, receiver) = mpsc::channel(CHANNEL_DEPTH);
        (
            BodySender(sender),
            Self(Kind::Channel {
                receiver,
                remaining: len,
            }),
        )
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().0 {
            Kind::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Kind::Channel {
                receiver,
                remaining,
            } => match receiver.poll_recv(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    if let Some(left) = remaining {
                        *left = left.saturating_sub(data.len() as u64);
                    }
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => match remaining {
                    Some(left) if *left > 0 => Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the object's data ended early",
                    )))),
                    _ => Poll::Ready(None),
                },
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Full(data) => data.is_none(),
            Kind::Channel { remaining, .. } => *remaining == Some(0),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Full(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Kind::Channel {
                remaining: Some(left),
                ..
            } => SizeHint::with_exact(*left),
            Kind::Channel {
                remaining: None, ..
            } => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn channel_bodies_stream_what_is_sent() {
        let (sender, body) = Body::channel(Some(6));
        tokio::spawn(async move {
            sender.send(Bytes::from_static(b"abc")).await.unwrap();
            sender.send(Bytes::from_static(b"def")).await.unwrap();
        });
        assert_eq!(body.collect().await.unwrap().to_bytes(), "abcdef");
    }

    #[tokio::test]
    async fn a_channel_body_that_ends_early_is_an_error() {
        // Regression guard: a reader failing mid-object must not look like a short object.
        let (sender, body) = Body::channel(Some(10));
        tokio::spawn(async move {
            sender.send(Bytes::from_static(b"abc")).await.unwrap();
        });
        assert!(body.collect().await.is_err());
    }
}
