//! The SOAP runtime every component stands on.
//!
//! Generated code (see the `codegen` crate) implements [`Service`] for each WSDL portType's
//! dispatcher and calls a [`Transport`] from each client stub; this crate supplies the
//! envelopes, faults, security and HTTP around them.

mod addressing;
pub mod c14n;
mod client;
pub mod envelope;
mod error;
mod exchange;
mod fault;
mod http;
mod http_wsdl;
pub mod keys;
pub mod listener;
mod random;
mod server;
mod service;
pub mod wss;

pub use client::{Exchange, HttpTransport, HttpTransportBuilder, ReplySignature};
pub use error::{ServerError, SoapError};
pub use exchange::Endpoint;
pub use fault::{Fault, FaultCode};
pub use http::{BodyError, BodyPace, Security};
pub use server::{boxed, Connection, Handler, HttpBody, Server, ServerBuilder};
pub use service::{
    error_chain, BoxFuture, ClientError, Operation, Reply, RequestContext, Service, Transport,
    TransportError,
};

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
