//! A policy document read from its JSON text: every element checked once, so that
//! evaluation only matches.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::condition::Condition;
use crate::context::Context;
use crate::pattern::{Pattern, Syntax};
use crate::PolicyError;

/// The grammar's versions. 2012-10-17 reads policy variables; 2008-10-17 (also what a
/// document without Version is) takes `${...}` literally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2008_10_17,
    V2012_10_17,
}

/// Whether a matching statement allows or denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// An identity policy (one attached to a user or a group).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub version: Version,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// One statement: whom it does not say (identity policies have no Principal), what it
/// says of which actions on which resources, under which conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
}

/// Action or NotAction, Resource or NotResource.
#[derive(Debug, Clone, PartialEq)]
struct Patterns {
    patterns: Vec<Pattern>,
    /// The `Not...` form: matches what none of the patterns matches.
    negated: bool,
}

impl Patterns {
    fn matches(&self, subject: &str, fold_case: bool, context: &Context) -> bool {
        self.patterns
            .iter()
            .any(|p| p.matches(subject, fold_case, context))
            != self.negated
    }
}

impl Statement {
    /// Whether this statement speaks of `action` on `resource` for a request with `context`.
    pub fn applies(&self, action: &str, resource: &str, context: &Context) -> bool {
        // Action names are case-insensitive; resources (ARNs, object keys) are not.
        self.actions.matches(action, true, context)
            && self.resources.matches(resource, false, context)
            && self.conditions.iter().all(|c| c.holds(context))
    }
}

/// IAM's limits on a policy's size, white space not counted.
pub const USER_POLICY_LIMIT: usize = 2048;
pub const GROUP_POLICY_LIMIT: usize = 5120;

impl Policy {
    /// Reads and checks `text`, at most `limit` characters besides white space.
    pub fn parse(text: &str, limit: usize) -> Result<Self, PolicyError> {
        let size = text.chars().filter(|c| !c.is_whitespace()).count();
        if size > limit {
            return Err(PolicyError::TooLarge { size, limit });
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| malformed(format!("Syntax errors in policy: {e}")))?;
        let document = value
            .as_object()
            .ok_or_else(|| malformed("The policy document must be a JSON object"))?;
        for key in document.keys() {
            if !["Version", "Id", "Statement"].contains(&key.as_str()) {
                return Err(malformed(format!(
                    "Policy document contains an unknown element: {key}"
                )));
            }
        }
        let version = match document.get("Version") {
            None => Version::V2008_10_17,
            Some(Value::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
            Some(Value::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
            Some(v) => {
                return Err(malformed(format!(
                    "The policy's Version {v} is not 2012-10-17 or 2008-10-17"
                )))
            }
        };
        let id = match document.get("Id") {
            None => None,
            Some(Value::String(id)) => Some(id.clone()),
            Some(_) => return Err(malformed("Id must be a string")),
        };
        let statements = match document.get("Statement") {
            None => return Err(malformed("Missing required field Statement")),
            Some(Value::Object(one)) => vec![statement(one, version)?],
            Some(Value::Array(many)) if !many.is_empty() => many
                .iter()
                .map(|s| {
                    s.as_object()
                        .ok_or_else(|| malformed("Each Statement must be a JSON object"))
                        .and_then(|s| statement(s, version))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(malformed(
                    "Statement must be an object or a non-empty list of objects",
                ))
            }
        };
        let mut sids = HashSet::new();
        for sid in statements.iter().filter_map(|s: &Statement| s.sid.as_ref()) {
            if !sids.insert(sid) {
                return Err(malformed(format!(
                    "Statement IDs (SID) in a single policy must be unique: {sid} repeats"
                )));
            }
        }
        Ok(Self {
            version,
            id,
            statements,
        })
    }
}

fn malformed(message: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(message.into())
}

fn statement(s: &Map<String, Value>, version: Version) -> Result<Statement, PolicyError> {
    for key in s.keys() {
        match key.as_str() {
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource"
            | "Condition" => {}
            "Principal" | "NotPrincipal" => {
                return Err(malformed("Policy document should not specify a principal"))
            }
            _ => {
                return Err(malformed(format!(
                    "Statement contains an unknown element: {key}"
                )))
            }
        }
    }
    let sid = match s.get("Sid") {
        None => None,
        Some(Value::String(sid)) if sid.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Some(sid.clone())
        }
        Some(sid) => {
            return Err(malformed(format!(
                "Statement IDs (SID) must be alpha-numeric: {sid}"
            )))
        }
    };
    let effect = match s.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(e) => {
            return Err(malformed(format!(
                "Effect must be \"Allow\" or \"Deny\", not {e}"
            )))
        }
        None => return Err(malformed("Missing required field Effect")),
    };
    let variables = version == Version::V2012_10_17;
    let actions = patterns(
        s,
        "Action",
        Syntax {
            wildcards: true,
            variables: false,
        },
    )?;
    for action in &actions.1 {
        let vendor = action.split_once(':').map(|(v, _)| v);
        if action != "*"
            && !vendor.is_some_and(|v| {
                !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        {
            return Err(malformed(format!(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.: {action}"
            )));
        }
    }
    let resources = patterns(
        s,
        "Resource",
        Syntax {
            wildcards: true,
            variables,
        },
    )?;
    for resource in &resources.1 {
        if resource != "*" && !resource.starts_with("arn:") {
            return Err(malformed(format!(
                "Resource {resource} must be in ARN format or \"*\""
            )));
        }
    }
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(block) => Condition::parse_block(block, variables)?,
    };
    Ok(Statement {
        sid,
        effect,
        actions: actions.0,
        resources: resources.0,
        conditions,
    })
}

/// The `element` or `Not<element>` of a statement (exactly one of them), and its texts.
fn patterns(
    s: &Map<String, Value>,
    element: &str,
    syntax: Syntax,
) -> Result<(Patterns, Vec<String>), PolicyError> {
    let not = format!("Not{element}");
    let (value, negated, name) = match (s.get(element), s.get(&not)) {
        (Some(v), None) => (v, false, element),
        (None, Some(v)) => (v, true, not.as_str()),
        (Some(_), Some(_)) => {
            return Err(malformed(format!(
                "A statement has {element} or {not}, not both"
            )))
        }
        (None, None) => {
            return Err(malformed(format!(
                "Policy statement must contain {element} or {not}"
            )))
        }
    };
    let texts = match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) if !many.is_empty() => many
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| malformed(format!("{name} must hold only strings")))?,
        _ => {
            return Err(malformed(format!(
                "{name} must be a string or a non-empty list of strings"
            )))
        }
    };
    let patterns = Patterns {
        patterns: texts.iter().map(|t| Pattern::parse(t, syntax)).collect(),
        negated,
    };
    Ok((patterns, texts))
}
