//! S3 errors as SOAP faults, as S3 wrote them: `faultcode` `soapenv:Client.<Code>` (or
//! `Server.` for our failures), the message as `faultstring`, HTTP status 500.
//!
//! Handlers of the generated trait return a [`soap::Fault`]; the S3 code travels in its
//! `detail`, which [`FaultBody`] turns back into the qualified `faultcode`.

use ::soap::{Fault, FaultCode};
use xmlbind::{ToXml, XmlWriter};

use crate::error::S3Error;

/// The fault answering `error`. Internal errors are logged here and show no detail.
pub fn to_fault(error: S3Error) -> Fault {
    let code = error.s3_code();
    let side = if error.status().is_server_error() {
        if let S3Error::Internal(cause) = &error {
            tracing::error!(%cause, "SOAP request failed");
        }
        FaultCode::Server
    } else {
        FaultCode::Client
    };
    Fault {
        code: side,
        string: error.to_string(),
        detail: Some(code.to_owned()),
    }
}

/// The children of a SOAP 1.1 `Fault` element with an S3 code.
#[derive(Debug)]
pub struct FaultBody<'a>(pub &'a Fault);

impl ToXml for FaultBody<'_> {
    fn write_content(&self, w: &mut XmlWriter) {
        let Fault {
            code,
            string,
            detail,
        } = self.0;
        let faultcode = match detail {
            Some(s3_code) => format!("soapenv:{}.{s3_code}", code.soap11()),
            None => format!("soapenv:{}", code.soap11()),
        };
        for (name, text) in [
            ("faultcode", faultcode.as_str()),
            ("faultstring", string.as_str()),
        ] {
            w.start_element(None, name);
            w.text(text);
            w.end_element();
        }
    }
}
