//! Evaluation after IAM's documented examples (policies in `fixtures/`), and the checks a
//! document must pass before it is stored.
#![allow(clippy::unwrap_used)]

use super::*;

fn fixture(name: &str) -> Policy {
    let path = format!("{}/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    Policy::parse(&text, GROUP_POLICY_LIMIT).unwrap()
}

fn decide(
    policies: &[(&str, &Policy)],
    action: &str,
    resource: &str,
    context: &Context,
) -> Decision {
    evaluate(
        policies.iter().copied(),
        &Request {
            action,
            resource,
            context,
        },
    )
}

fn bob() -> Context {
    Context::of_request("bob", "AIDABOB", Some([127, 0, 0, 1].into()), 1_700_000_000)
}

#[test]
fn no_policy_denies_implicitly() {
    assert_eq!(
        decide(&[], "ec2:DescribeInstances", "*", &bob()),
        Decision::ImplicitDeny
    );
}

#[test]
fn describe_only_allows_describes_in_any_case_and_nothing_else() {
    let p = fixture("describe-only");
    let policies = [("describe", &p)];
    assert_eq!(
        decide(&policies, "ec2:DescribeInstances", "*", &bob()),
        Decision::Allow {
            policy: "describe".into(),
            sid: Some("DescribeEverything".into())
        }
    );
    assert!(decide(&policies, "EC2:describeimages", "*", &bob()).allowed());
    assert_eq!(
        decide(&policies, "ec2:RunInstances", "*", &bob()),
        Decision::ImplicitDeny
    );
    assert!(!decide(&policies, "ec2:CreateKeyPair", "*", &bob()).allowed());
    assert!(!decide(&policies, "s3:DescribeSomething", "*", &bob()).allowed());
}

#[test]
fn an_explicit_deny_wins_over_any_allow() {
    let p = fixture("s3-all-but-delete");
    let policies = [("s3", &p)];
    let object = "arn:aws:s3:::b/k";
    assert!(decide(&policies, "s3:PutObject", object, &bob()).allowed());
    assert!(decide(&policies, "s3:GetObject", object, &bob()).allowed());
    assert_eq!(
        decide(&policies, "s3:DeleteObject", object, &bob()),
        Decision::Deny {
            policy: "s3".into(),
            sid: Some("NoDeletes".into())
        }
    );
    // The Deny in one policy beats an Allow of everything in another, in either order.
    let all = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        USER_POLICY_LIMIT,
    )
    .unwrap();
    for policies in [[("all", &all), ("s3", &p)], [("s3", &p), ("all", &all)]] {
        assert!(!decide(&policies, "s3:DeleteObject", object, &bob()).allowed());
        assert!(decide(&policies, "ec2:RunInstances", "*", &bob()).allowed());
    }
}

#[test]
fn home_folders_follow_the_user_name() {
    let p = fixture("home-folder");
    let policies = [("home", &p)];
    let list = |prefix: &str| bob().with(S3_PREFIX, prefix);
    assert!(decide(&policies, "s3:ListAllMyBuckets", "arn:aws:s3:::*", &bob()).allowed());
    assert!(decide(&policies, "s3:ListBucket", "arn:aws:s3:::shared", &list("")).allowed());
    assert!(decide(
        &policies,
        "s3:ListBucket",
        "arn:aws:s3:::shared",
        &list("home/")
    )
    .allowed());
    assert!(decide(
        &policies,
        "s3:ListBucket",
        "arn:aws:s3:::shared",
        &list("home/bob/")
    )
    .allowed());
    assert!(!decide(
        &policies,
        "s3:ListBucket",
        "arn:aws:s3:::shared",
        &list("home/alice/")
    )
    .allowed());
    assert!(!decide(&policies, "s3:ListBucket", "arn:aws:s3:::other", &list("")).allowed());
    // ListBucket without a prefix has no s3:prefix: StringLike does not hold.
    assert!(!decide(&policies, "s3:ListBucket", "arn:aws:s3:::shared", &bob()).allowed());
    let mine = "arn:aws:s3:::shared/home/bob/notes.txt";
    let hers = "arn:aws:s3:::shared/home/alice/notes.txt";
    assert!(decide(&policies, "s3:PutObject", mine, &bob()).allowed());
    assert!(decide(&policies, "s3:GetObject", mine, &bob()).allowed());
    assert!(!decide(&policies, "s3:GetObject", hers, &bob()).allowed());
    assert!(!decide(&policies, "s3:GetObjectAcl", mine, &bob()).allowed());
    // Resources are case-sensitive.
    assert!(!decide(
        &policies,
        "s3:GetObject",
        "arn:aws:s3:::shared/HOME/bob/x",
        &bob()
    )
    .allowed());
}

#[test]
fn version_2008_takes_variables_literally() {
    let p = fixture("legacy-2008");
    assert_eq!(p.version, Version::V2008_10_17);
    let policies = [("legacy", &p)];
    assert!(!decide(&policies, "s3:GetObject", "arn:aws:s3:::b/bob/k", &bob()).allowed());
    assert!(decide(
        &policies,
        "s3:GetObject",
        "arn:aws:s3:::b/${aws:username}/k",
        &bob()
    )
    .allowed());
}

#[test]
fn a_network_condition_denies_from_elsewhere() {
    let p = fixture("office-network-only");
    let policies = [("office", &p)];
    let from = |ip: [u8; 4]| Context::of_request("bob", "", Some(ip.into()), 0);
    assert!(decide(
        &policies,
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        &from([192, 0, 2, 10])
    )
    .allowed());
    assert!(decide(&policies, "ec2:RunInstances", "*", &from([203, 0, 113, 1])).allowed());
    assert_eq!(
        decide(&policies, "ec2:RunInstances", "*", &from([127, 0, 0, 1])),
        Decision::Deny {
            policy: "office".into(),
            sid: Some("OnlyFromTheOffice".into())
        }
    );
}

#[test]
fn a_time_window_allows_only_within_it() {
    let p = fixture("first-half-of-2013");
    let policies = [("window", &p)];
    let at = |secs| Context::of_request("bob", "", None, secs);
    assert!(decide(&policies, "ec2:RunInstances", "*", &at(1_362_139_200)).allowed()); // 2013-03-01
    assert!(!decide(&policies, "ec2:RunInstances", "*", &at(1_372_550_400)).allowed()); // 2013-06-30
    assert!(!decide(&policies, "ec2:RunInstances", "*", &at(1_700_000_000)).allowed());
}

#[test]
fn not_action_allows_all_but_the_named_and_a_narrow_allow_adds_back() {
    let p = fixture("all-but-iam");
    let policies = [("not-iam", &p)];
    assert!(decide(&policies, "ec2:RunInstances", "*", &bob()).allowed());
    assert!(decide(&policies, "s3:DeleteBucket", "arn:aws:s3:::b", &bob()).allowed());
    assert!(!decide(&policies, "iam:CreateUser", "*", &bob()).allowed());
    assert!(decide(
        &policies,
        "iam:GetUser",
        "arn:aws:iam::123456789012:user/bob",
        &bob()
    )
    .allowed());
    assert!(!decide(
        &policies,
        "iam:GetUser",
        "arn:aws:iam::123456789012:user/alice",
        &bob()
    )
    .allowed());
}

#[test]
fn not_resource_matches_what_it_does_not_name() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"s3:*","Resource":"*"},
            {"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::mine","arn:aws:s3:::mine/*"]}]}"#,
        USER_POLICY_LIMIT,
    )
    .unwrap();
    let policies = [("mine", &p)];
    assert!(decide(&policies, "s3:GetObject", "arn:aws:s3:::mine/k", &bob()).allowed());
    assert!(!decide(&policies, "s3:GetObject", "arn:aws:s3:::theirs/k", &bob()).allowed());
}

#[test]
fn decisions_read_well_in_logs() {
    assert_eq!(
        Decision::Deny {
            policy: "p".into(),
            sid: Some("S".into())
        }
        .to_string(),
        "denied explicitly by policy \"p\" statement \"S\""
    );
    assert_eq!(
        Decision::Allow {
            policy: "p".into(),
            sid: None
        }
        .to_string(),
        "allowed by policy \"p\""
    );
    assert_eq!(
        Decision::ImplicitDeny.to_string(),
        "denied: no policy allows it"
    );
}

/// Each malformed document and a fragment of the message that must name its fault.
const MALFORMED: &[(&str, &str)] = &[
    ("", "Syntax errors"),
    ("{", "Syntax errors"),
    ("[]", "JSON object"),
    (
        r#"{"Version":"2012-10-17"}"#,
        "Missing required field Statement",
    ),
    (
        r#"{"Version":"2012-10-17","Statement":[]}"#,
        "non-empty list",
    ),
    (
        r#"{"Version":"2012-10-17","Statement":["x"]}"#,
        "Each Statement",
    ),
    (r#"{"Version":"2010-01-01","Statement":{}}"#, "2010-01-01"),
    (r#"{"Version":"2012-10-17","Id":7,"Statement":{}}"#, "Id"),
    (
        r#"{"Version":"2012-10-17","Extra":1,"Statement":{}}"#,
        "unknown element: Extra",
    ),
    (
        r#"{"Statement":{"Action":"s3:*","Resource":"*"}}"#,
        "Missing required field Effect",
    ),
    (
        r#"{"Statement":{"Effect":"allow","Action":"s3:*","Resource":"*"}}"#,
        "\"allow\"",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
        "Action or NotAction",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*"}}"#,
        "Resource or NotResource",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","NotAction":"s3:x","Resource":"*"}}"#,
        "not both",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}"#,
        "vendor",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Action":":GetObject","Resource":"*"}}"#,
        "vendor",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
        "non-empty list",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Action":["s3:x",1],"Resource":"*"}}"#,
        "only strings",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"bucket/key"}}"#,
        "ARN format",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
        "principal",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Bogus":1}}"#,
        "unknown element: Bogus",
    ),
    (
        r#"{"Statement":{"Sid":"no spaces","Effect":"Allow","Action":"s3:*","Resource":"*"}}"#,
        "alpha-numeric",
    ),
    (
        r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
        "A repeats",
    ),
    (
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Between":{"aws:x":"1"}}}}"#,
        "Between",
    ),
];

#[test]
fn malformed_documents_name_their_fault() {
    for (text, fault) in MALFORMED {
        match Policy::parse(text, USER_POLICY_LIMIT) {
            Err(PolicyError::Malformed(message)) => {
                assert!(
                    message.contains(fault),
                    "{text}: {message:?} lacks {fault:?}"
                )
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn the_size_limit_does_not_count_white_space() {
    let statement = r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}"#;
    let text = |n: usize| format!(r#"{{"Statement":[{}]}}"#, vec![statement; n].join(","));
    let many = text(30);
    let size = many.len();
    assert!(size > USER_POLICY_LIMIT && size <= GROUP_POLICY_LIMIT);
    assert_eq!(
        Policy::parse(&many, USER_POLICY_LIMIT),
        Err(PolicyError::TooLarge {
            size,
            limit: USER_POLICY_LIMIT
        })
    );
    assert!(Policy::parse(&many, GROUP_POLICY_LIMIT).is_ok());
    let tight = text(26);
    assert!(tight.len() <= USER_POLICY_LIMIT);
    let airy = tight.replace(',', ",\n        ");
    assert!(airy.len() > USER_POLICY_LIMIT);
    assert!(Policy::parse(&airy, USER_POLICY_LIMIT).is_ok());
}

/// Property: whatever the bytes, parsing answers (a policy or an error), never panics; and
/// every document cut short or with one character removed is handled the same way.
#[test]
fn damaged_documents_never_panic() {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/home-folder.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let chars: Vec<char> = text.chars().collect();
    for i in 0..chars.len() {
        let cut: String = chars[..i].iter().collect();
        let _ = Policy::parse(&cut, GROUP_POLICY_LIMIT);
        let removed: String = chars[..i].iter().chain(&chars[i + 1..]).collect();
        if let Ok(p) = Policy::parse(&removed, GROUP_POLICY_LIMIT) {
            let _ = decide(
                &[("p", &p)],
                "s3:GetObject",
                "arn:aws:s3:::shared/home/bob/k",
                &bob(),
            );
        }
    }
    // A small xorshift generator: noise built from the grammar's own tokens.
    let tokens = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"Statement\"",
        "\"Effect\"",
        "\"Allow\"",
        "\"Deny\"",
        "\"Action\"",
        "\"Resource\"",
        "\"*\"",
        "\"s3:*\"",
        "\"Condition\"",
        "\"StringLike\"",
        "\"aws:username\"",
        "\"${aws:username}\"",
        "\"${\"",
        "\"IpAddress\"",
        "\"::/0\"",
        "1",
        "true",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        let mut doc = String::new();
        for _ in 0..(state % 40) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            doc.push_str(tokens[(state % tokens.len() as u64) as usize]);
        }
        if let Ok(p) = Policy::parse(&doc, GROUP_POLICY_LIMIT) {
            let _ = decide(&[("p", &p)], "s3:GetObject", "arn:aws:s3:::b/k", &bob());
        }
    }
}
