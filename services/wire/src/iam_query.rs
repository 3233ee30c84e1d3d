//! The Euare service's IAM Query requests: one entry point, [`parse`], from an action and
//! its parameters to a typed request of [`crate::iam`], with Eucalyptus's `DelegateAccount`
//! beside it (no IAM message has it: it names the account the cloud administrator acts in).

use crate::iam::IamPortTypeRequest;
use crate::query::{QueryError, QueryParams};

/// The parameter naming the account the cloud administrator acts in.
pub const DELEGATE_ACCOUNT: &str = "DelegateAccount";

/// What one request asks: the typed request and the account it is for, when it names one.
#[derive(Debug, Clone, PartialEq)]
pub struct IamQueryRequest {
    pub request: IamPortTypeRequest,
    pub delegate_account: Option<String>,
}

/// Reads the request of `action` from `params` (built with [`QueryParams::new`], which
/// leaves the protocol's own parameters out). Every parameter must be used: one left over is
/// [`QueryError::UnknownParameter`].
pub fn parse(action: &str, mut params: QueryParams) -> Result<IamQueryRequest, QueryError> {
    let delegate_account = params.take(DELEGATE_ACCOUNT);
    let request = IamPortTypeRequest::from_query(action, &mut params)?;
    params.finish()?;
    Ok(IamQueryRequest {
        request,
        delegate_account,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::iam::{StatusType, UpdateAccessKeyType};

    fn params(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams::new(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn requests_read_with_their_delegate_account_beside_them() {
        let read = parse(
            "UpdateAccessKey",
            params(&[
                ("AccessKeyId", "AKI1"),
                ("Status", "Inactive"),
                ("DelegateAccount", "acme"),
            ]),
        )
        .unwrap();
        assert_eq!(read.delegate_account.as_deref(), Some("acme"));
        assert_eq!(
            read.request,
            IamPortTypeRequest::UpdateAccessKey(UpdateAccessKeyType {
                user_name: None,
                access_key_id: "AKI1".into(),
                status: StatusType::Inactive,
            })
        );
        let empty = parse("ListAccounts", params(&[])).unwrap();
        assert_eq!(empty.delegate_account, None);
    }

    #[test]
    fn bad_requests_name_what_is_wrong() {
        assert_eq!(
            parse("CreateUser", params(&[])),
            Err(QueryError::MissingParameter("UserName".into()))
        );
        assert_eq!(
            parse(
                "CreateUser",
                params(&[("UserName", "a"), ("Colour", "red")])
            ),
            Err(QueryError::UnknownParameter("Colour".into()))
        );
        assert_eq!(
            parse("RunInstances", params(&[])),
            Err(QueryError::InvalidAction("RunInstances".into()))
        );
        let status = parse(
            "UpdateAccessKey",
            params(&[("AccessKeyId", "A"), ("Status", "Paused")]),
        );
        assert!(
            matches!(status, Err(QueryError::InvalidParameterValue { ref parameter, .. }) if parameter == "Status"),
            "{status:?}"
        );
    }
}
