//! IAM policies: the JSON grammar of identity policies (Version, Statement, Sid, Effect,
//! Action/NotAction, Resource/NotResource, Condition), checked when a document is stored,
//! and the evaluation of a request against a user's policies, as IAM does it: an explicit
//! Deny wins, else an Allow is needed, else the request is denied implicitly.
//!
//! ```
//! use policy::{evaluate, Context, Policy, Request, USER_POLICY_LIMIT};
//!
//! let text = r#"{"Version": "2012-10-17", "Statement": [
//!     {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}"#;
//! let policy = Policy::parse(text, USER_POLICY_LIMIT).unwrap();
//! let context = Context::new();
//! let ask = |action| Request { action, resource: "*", context: &context };
//! assert!(evaluate([("describe", &policy)], &ask("ec2:DescribeInstances")).allowed());
//! assert!(!evaluate([("describe", &policy)], &ask("ec2:RunInstances")).allowed());
//! ```

mod condition;
mod context;
mod document;
mod pattern;

pub use context::{
    Context, CURRENT_TIME, EPOCH_TIME, S3_DELIMITER, S3_PREFIX, SECURE_TRANSPORT, SOURCE_IP,
    USERID, USERNAME,
};
pub use document::{Effect, Policy, Statement, Version, GROUP_POLICY_LIMIT, USER_POLICY_LIMIT};

/// Why a document is not a policy we store. `Malformed` is IAM's MalformedPolicyDocument,
/// `TooLarge` its LimitExceeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{0}")]
    Malformed(String),
    #[error(
        "the policy has {size} characters besides white space, more than the limit of {limit}"
    )]
    TooLarge { size: usize, limit: usize },
}

/// What is asked: an action (`ec2:RunInstances`, `s3:GetObject`) on a resource (an ARN, or
/// `*` where the action has no resource of its own).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a Context,
}

/// The outcome of evaluation, naming the policy and statement that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow {
        policy: String,
        sid: Option<String>,
    },
    /// An explicit Deny: no Allow anywhere overrides it.
    Deny {
        policy: String,
        sid: Option<String>,
    },
    /// No statement allows the request.
    ImplicitDeny,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by = |f: &mut std::fmt::Formatter<'_>, policy: &str, sid: &Option<String>| {
            write!(f, "policy {policy:?}")?;
            match sid {
                Some(sid) => write!(f, " statement {sid:?}"),
                None => Ok(()),
            }
        };
        match self {
            Self::Allow { policy, sid } => {
                f.write_str("allowed by ")?;
                by(f, policy, sid)
            }
            Self::Deny { policy, sid } => {
                f.write_str("denied explicitly by ")?;
                by(f, policy, sid)
            }
            Self::ImplicitDeny => f.write_str("denied: no policy allows it"),
        }
    }
}

/// Evaluates `request` against named policies (a user's own and its groups'): the first
/// explicit Deny decides; else the first Allow; else the request is denied implicitly.
pub fn evaluate<'p>(
    policies: impl IntoIterator<Item = (&'p str, &'p Policy)>,
    request: &Request<'_>,
) -> Decision {
    let mut allow = None;
    for (name, policy) in policies {
        for statement in &policy.statements {
            if !statement.applies(request.action, request.resource, request.context) {
                continue;
            }
            let decided = || (name.to_owned(), statement.sid.clone());
            match statement.effect {
                Effect::Deny => {
                    let (policy, sid) = decided();
                    return Decision::Deny { policy, sid };
                }
                Effect::Allow if allow.is_none() => allow = Some(decided()),
                Effect::Allow => {}
            }
        }
    }
    match allow {
        Some((policy, sid)) => Decision::Allow { policy, sid },
        None => Decision::ImplicitDeny,
    }
}

#[cfg(test)]
mod tests;
