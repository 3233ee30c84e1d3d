//! S3 errors as SOAP faults, as S3 wrote them: `faultcode` `soapenv:Client.<Code>` (or
//! `Server.` for our failures) in SOAP 1.1, the code as the `Subcode` in 1.2, the message as
//! the fault string. The HTTP status is the exchange's, as for every SOAP service.

use ::soap::Fault;

use crate::error::S3Error;

/// The fault answering `error`. Internal errors are logged here and show no detail.
pub fn to_fault(error: S3Error) -> Fault {
    let code = error.s3_code();
    let fault = if error.status().is_server_error() {
        if let S3Error::Internal(cause) = &error {
            tracing::error!(%cause, "SOAP request failed");
        }
        Fault::server(error.to_string())
    } else {
        Fault::client(error.to_string())
    };
    fault.with_subcode(code)
}
