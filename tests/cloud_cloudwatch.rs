//! The CloudWatch API (issue 16's acceptance 2) against a real `euca cloud` over a real
//! `euca cluster` and a test-driver `euca node`, driven by stock boto3's `cloudwatch` client
//! (AWS JSON 1.0), botocore's rpc-v2-cbor and raw Query requests from eucarc files alone
//! (`tests/py/cloud_cloudwatch.py`): a user's running instance's
//! metrics listed and summed for its account only, CloudWatch's error codes, and an alarm
//! that fires once to a webhook the test serves and recovers once, recorded in the event
//! log; IAM users held to their `cloudwatch:` policies. The samples are the cloud
//! administrator's PutMetricData (the namespace AWS/EC2 is the cloud's own), recorded by the
//! same `Cloud::record_samples` the sensors feed.

#![allow(clippy::unwrap_used)]

mod cloud_support;
mod cluster_support;
mod common;
mod monitoring_support;
mod node_support;

use cloud_support::{admin, iam_user, put_policy};

#[test]
fn a_users_instance_metrics_are_listed_and_summed_for_its_account_alone_and_alarms_call_webhooks() {
    let w = monitoring_support::start();
    let (data, instance) = (&w.data, w.instance.as_str());
    let script = "cloud_cloudwatch.py";
    w.python(
        script,
        &["metrics", &w.admin_dir, &w.bob, &w.carol, instance],
    );
    w.python(script, &["alarm", &w.admin_dir, &w.bob, &w.carol, instance]);
    let key = |(access, secret): (String, String)| format!("{access}:{secret}");
    let reader = key(iam_user(data, "bob", "reader"));
    put_policy(
        data,
        "bob",
        "--user",
        "reader",
        "read",
        "cloudwatch-read-only.json",
    );
    let nobody = key(iam_user(data, "bob", "nobody"));
    w.python(script, &["policy", &w.bob, &reader, &nobody, instance]);

    // Each change of the alarm's state is in the event log, as the cloud's, in bob's account.
    let events = admin(
        data,
        &[
            "events",
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--account",
            "bob",
        ],
    );
    let changes: Vec<&str> = events
        .lines()
        .filter(|l| l.contains(",cloudwatch,alarm.state,busy,"))
        .collect();
    assert_eq!(changes.len(), 3, "{events}");
    assert!(changes[1].contains(",alarm.state,busy,ALARM,"), "{events}");
    assert!(
        events.contains(",bob,admin,127.0.0.1,cloudwatch,GetMetricStatistics,,ok,"),
        "the API's requests are recorded too: {events}"
    );
    let log = w.cloud.log();
    assert!(log.contains("alarm changed state"), "{log}");
}
