//! SOAP envelopes: reading what arrived, writing what goes out.
//! SKELETON by the lead: signatures are the agreed API; bodies are to be written.

use xmlbind::{Element, Limits, ToXml};

use crate::error::SoapError;
use crate::fault::Fault;
use crate::wss::{Signer, Verifier};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapVersion {
    V11,
    V12,
}

/// WS-Addressing 2005/08 headers of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressing {
    pub to: Option<String>,
    pub action: Option<String>,
    pub message_id: Option<String>,
    pub relates_to: Option<String>,
}

/// What goes into the Body of an outgoing message.
#[derive(Clone, Copy)]
pub enum BodyContent<'a> {
    Payload { namespace: &'a str, local: &'a str, value: &'a (dyn ToXml + Sync) },
    Fault(&'a Fault),
}

/// An outgoing message.
pub struct Outgoing<'a> {
    pub version: SoapVersion,
    pub addressing: Addressing,
    pub body: BodyContent<'a>,
}

/// Serializes `outgoing`, signed by `signer` when given.
pub fn write(outgoing: &Outgoing<'_>, signer: Option<&Signer>) -> Result<Vec<u8>, SoapError> {
    let _ = (outgoing, signer);
    todo!("envelope::write")
}

/// A received envelope, parsed from the bytes that arrived (never re-serialized).
#[derive(Debug)]
pub struct Incoming {
    root: Element,
    version: SoapVersion,
}

/// The parts of an incoming message a handler may trust.
#[derive(Debug)]
pub struct Verified<'a> {
    /// The Body's first child element (the signed one when a signature was verified).
    pub payload: Option<&'a Element>,
    /// A fault carried in the Body, when there is one.
    pub fault: Option<Fault>,
    pub addressing: Addressing,
    /// DER of the certificate whose signature was verified.
    pub signer_certificate: Option<Vec<u8>>,
}

impl Incoming {
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, SoapError> {
        let _ = (bytes, limits);
        todo!("Incoming::parse")
    }

    pub fn version(&self) -> SoapVersion {
        self.version
    }

    pub fn root(&self) -> &Element {
        &self.root
    }

    /// Checks the security header with `verifier` (or none: only for unsecured endpoints)
    /// and returns what the handler may see.
    pub fn verify(&self, verifier: Option<&Verifier>) -> Result<Verified<'_>, SoapError> {
        let _ = verifier;
        todo!("Incoming::verify")
    }
}
