"""Drives the cloud controller's CloudWatch API (/services/CloudWatch) with stock boto3's
`cloudwatch` client, configured from eucarc files alone: botocore 1.37 and later speak
CloudWatch's AWS JSON 1.0 protocol (the first of the model's protocols botocore ranks
highest), which the cloud serves beside rpc-v2-cbor (checked with botocore's own CBOR
serializer and parser, through a copy of the model that lists it alone) and the Query
protocol (checked with raw, SigV4-signed requests).

Phases (run by tests/cloud_cloudwatch.rs):
  run USER_DIR                     the user runs an instance to running: prints its id
  metrics ADMIN USER OTHER ID      samples put for the instance (by the admin: AWS/EC2 is the
                                   cloud's own), listed and summed for its owner, invisible to
                                   another account; CloudWatch's errors; the Query protocol
  alarm ADMIN USER OTHER ID        an alarm fires once to a webhook served here and recovers
                                   once; DescribeAlarms(ForMetric), DeleteAlarms
  policy USER KEY:SECRET ID        an IAM user of the account allowed cloudwatch:List*, Get*
                                   and Describe* reads the metrics and sets no alarm; one with
                                   no policy reads nothing
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import datetime
import http.server
import json
import os
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

import boto3
import botocore.loaders
import botocore.session
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from cloud_clients import aws_cli, eucarc, ec2, expect_error, wait_for

METRICS = ["CPUUtilization", "DiskReadBytes", "DiskWriteBytes", "NetworkIn", "NetworkOut"]
CW_NS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"


def ok(what):
    print("ok:", what, flush=True)


def endpoint(env):
    return env["EC2_URL"].replace("/services/Eucalyptus", "/services/CloudWatch")


def cbor_models():
    """A botocore data folder whose CloudWatch model names rpc-v2-cbor alone."""
    folder = tempfile.mkdtemp(prefix="cw-model-")
    model = botocore.loaders.create_loader().load_service_model("cloudwatch", "service-2")
    assert "smithy-rpc-v2-cbor" in model["metadata"]["protocols"], model["metadata"]
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    place = os.path.join(folder, "cloudwatch", model["metadata"]["apiVersion"])
    os.makedirs(place)
    with open(os.path.join(place, "service-2.json"), "w") as out:
        json.dump(model, out)
    return folder


def cloudwatch(env, key=None, cbor=False):
    """The stock client of eucarc `env`'s user, or of the access key `key` (ACCESS:SECRET);
    with `cbor`, one that speaks rpc-v2-cbor."""
    if key:
        access, secret = key.split(":", 1)
        env = dict(env, EC2_ACCESS_KEY=access, EC2_SECRET_KEY=secret)
    session = botocore.session.get_session()
    if cbor:
        session.get_component("data_loader").search_paths.insert(0, cbor_models())
    client = boto3.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=endpoint(env),
        aws_access_key_id=env["EC2_ACCESS_KEY"],
        aws_secret_access_key=env["EC2_SECRET_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
        config=Config(retries={"max_attempts": 1}),
    )
    protocol = client.meta.service_model.resolved_protocol
    expected = "smithy-rpc-v2-cbor" if cbor else "json"
    assert protocol == expected, f"botocore speaks {protocol} to CloudWatch, not {expected}"
    return client


def json_rpc(env, operation, body, tamper=False):
    """`operation` over AWS JSON 1.0 signed by botocore's SigV4, its body changed after
    signing when `tamper`: (HTTP status, parsed JSON, x-amzn-query-error)."""
    request = AWSRequest(method="POST", url=endpoint(env), data=json.dumps(body).encode())
    request.headers["Content-Type"] = "application/x-amz-json-1.0"
    request.headers["X-Amz-Target"] = f"GraniteServiceVersion20100801.{operation}"
    credentials = Credentials(env["EC2_ACCESS_KEY"], env["EC2_SECRET_KEY"])
    SigV4Auth(credentials, "monitoring", env["AWS_DEFAULT_REGION"]).add_auth(request)
    prepared = request.prepare()
    sent = prepared.body.replace(b"AWS/EC2", b"AWS/EBS") if tamper else prepared.body
    response = requests.post(prepared.url, data=sent, headers=dict(prepared.headers))
    return response.status_code, response.json(), response.headers.get("x-amzn-query-error")


def query(env, action, params):
    """`action` over the Query protocol, a form POST signed by botocore's SigV4 (service
    monitoring): (HTTP status, parsed XML root)."""
    fields = dict(params, Action=action, Version="2010-08-01")
    request = AWSRequest(method="POST", url=endpoint(env), data=fields)
    request.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    credentials = Credentials(env["EC2_ACCESS_KEY"], env["EC2_SECRET_KEY"])
    SigV4Auth(credentials, "monitoring", env["AWS_DEFAULT_REGION"]).add_auth(request)
    prepared = request.prepare()
    response = requests.post(prepared.url, data=prepared.body, headers=dict(prepared.headers))
    return response.status_code, ET.fromstring(response.content)


def dims(instance):
    return [{"Name": "InstanceId", "Value": instance}]


def put(admin, instance, metric, value):
    admin.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": metric, "Dimensions": dims(instance), "Value": value}])


def run(user_dir):
    c = ec2(eucarc(user_dir))
    emi, eki, eri = (c.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
                     for k in ("machine", "kernel", "ramdisk"))
    run = c.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=1, MaxCount=1,
                          InstanceType="m1.small")
    instance = run["Instances"][0]["InstanceId"]
    assert wait_for(c, instance, "running")["State"]["Name"] == "running"
    ok(f"the user's instance {instance} runs")
    print(instance)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def wait_clear_of_period_end(margin=25):
    """Sleeps past the end of the current 5-minute period when it is near, so the checks that
    follow read one period's points."""
    into = time.time() % 300
    if into > 300 - margin:
        time.sleep(300 - into + 1)


def metrics(admin_dir, user_dir, other_dir, instance):
    admin, user, other = (cloudwatch(eucarc(d)) for d in (admin_dir, user_dir, other_dir))
    wait_clear_of_period_end()
    for value in (20.0, 40.0):
        put(admin, instance, "CPUUtilization", value)
    admin.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": m, "Dimensions": dims(instance), "Value": v, "Unit": "Bytes"}
        for m, v in [("DiskReadBytes", 0.0), ("DiskWriteBytes", 4096.0), ("NetworkIn", 1000.0),
                     ("NetworkOut", 2000.0)]])
    ok("PutMetricData: the cloud administrator's samples of the instance")

    listed = user.list_metrics()["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == METRICS, listed
    assert all(m["Namespace"] == "AWS/EC2" and m["Dimensions"] == dims(instance) for m in listed), listed
    only_cpu = user.list_metrics(Namespace="AWS/EC2", MetricName="CPUUtilization",
                                 Dimensions=[{"Name": "InstanceId", "Value": instance}])["Metrics"]
    assert [m["MetricName"] for m in only_cpu] == ["CPUUtilization"], only_cpu
    assert user.list_metrics(Namespace="AWS/EBS")["Metrics"] == []
    assert user.list_metrics(Dimensions=[{"Name": "InstanceId", "Value": "i-00000000"}])["Metrics"] == []
    ok("ListMetrics: the five AWS/EC2 metrics of the instance, by InstanceId; filters by namespace, "
       "name and dimension")

    start, end = now() - datetime.timedelta(minutes=10), now() + datetime.timedelta(minutes=5)
    stats = user.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=dims(instance), StartTime=start,
        EndTime=end, Period=300, Statistics=["Average", "Sum", "Minimum", "Maximum", "SampleCount"])
    assert stats["Label"] == "CPUUtilization", stats
    (point,) = stats["Datapoints"]
    assert (point["Average"], point["Sum"], point["Minimum"], point["Maximum"], point["SampleCount"]) == \
        (30.0, 60.0, 20.0, 40.0, 2.0), point
    assert point["Unit"] == "Percent" and point["Timestamp"].timestamp() % 300 == 0, point
    hourly = user.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="NetworkOut", Dimensions=dims(instance),
        StartTime=now() - datetime.timedelta(hours=2), EndTime=end, Period=3600, Statistics=["Sum"])
    (sum_point,) = hourly["Datapoints"]
    assert sum_point == {"Timestamp": sum_point["Timestamp"], "Sum": 2000.0, "Unit": "Bytes"}, sum_point
    wrong_unit = user.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=dims(instance), StartTime=start,
        EndTime=end, Period=300, Statistics=["Average"], Unit="Bytes")
    assert wrong_unit["Datapoints"] == [], wrong_unit
    ok("GetMetricStatistics: the 5-minute point's Average, Sum, Minimum, Maximum and SampleCount; an "
       "hour's Sum; another unit has no data")

    # 300 data make a body over botocore's 10 KB, which it sends gzipped.
    admin.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "DiskReadBytes", "Dimensions": dims(instance), "Value": 1.0, "Unit": "Bytes"}
    ] * 300)
    counted = user.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="DiskReadBytes", Dimensions=dims(instance), StartTime=start,
        EndTime=end, Period=300, Statistics=["SampleCount", "Sum"])
    (point,) = counted["Datapoints"]
    assert (point["SampleCount"], point["Sum"]) == (301.0, 300.0), point
    ok("a gzipped PutMetricData of 300 data is read whole")

    assert other.list_metrics()["Metrics"] == []
    theirs = other.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=dims(instance), StartTime=start,
        EndTime=end, Period=300, Statistics=["Average"])
    assert theirs["Datapoints"] == [], theirs
    expect_error(lambda: put(other, instance, "CPUUtilization", 99.0), "AccessDenied", 403)
    expect_error(lambda: other.put_metric_alarm(
        AlarmName="spy", MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average",
        Dimensions=dims(instance), Period=300, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold"), "InvalidParameterValue", 400)
    assert user.list_metrics()["Metrics"] == listed
    ok("another account sees none of the instance's metrics, puts no data and sets no alarm on it")

    too_many = lambda: user.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=dims(instance),
        StartTime=now() - datetime.timedelta(days=10), EndTime=now(), Period=300, Statistics=["Average"])
    expect_error(too_many, "InvalidParameterCombination", 400)
    expect_error(lambda: user.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=dims(instance), StartTime=start,
        EndTime=end, Period=60, Statistics=["Average"]), "InvalidParameterValue", 400)
    expect_error(lambda: user.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=dims(instance), StartTime=end,
        EndTime=start, Period=300, Statistics=["Average"]), "InvalidParameterValue", 400)
    expect_error(lambda: admin.put_metric_data(Namespace="Custom/App", MetricData=[
        {"MetricName": "Hits", "Value": 1.0}]), "InvalidParameterValue", 400)
    ok("too many datapoints is InvalidParameterCombination; a period under 5 minutes, a range "
       "backwards and a custom namespace are InvalidParameterValue")

    user_env = eucarc(user_dir)
    binary = cloudwatch(user_env, cbor=True)
    assert binary.list_metrics()["Metrics"] == listed
    again = binary.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=dims(instance), StartTime=start,
        EndTime=end, Period=300, Statistics=["Average", "Sum", "Minimum", "Maximum", "SampleCount"])
    assert again["Datapoints"] == stats["Datapoints"] and again["Label"] == "CPUUtilization", again
    expect_error(lambda: binary.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="CPUUtilization", Dimensions=dims(instance), StartTime=start,
        EndTime=end, Period=60, Statistics=["Average"]), "InvalidParameterValue", 400)
    ok("rpc-v2-cbor answers the same: ListMetrics, GetMetricStatistics (times, floats), an error")

    status, listed_raw, _ = json_rpc(user_env, "ListMetrics", {"Namespace": "AWS/EC2"})
    assert status == 200 and len(listed_raw["Metrics"]) == len(METRICS), listed_raw
    status, refused, header = json_rpc(user_env, "ListMetrics", {"Namespace": "AWS/EC2"}, tamper=True)
    assert (status, refused["__type"], header) == \
        (403, "SignatureDoesNotMatch", "SignatureDoesNotMatch;Sender"), (status, refused, header)
    ok("SigV4 covers the JSON body: a request changed after signing is SignatureDoesNotMatch")

    cli = aws_cli(user_env, "cloudwatch", endpoint(user_env))
    shown = cli("list-metrics", "--namespace", "AWS/EC2", "--metric-name", "CPUUtilization")["Metrics"]
    assert shown == only_cpu, shown
    summed = cli("get-metric-statistics", "--namespace", "AWS/EC2", "--metric-name", "CPUUtilization",
                 "--dimensions", f"Name=InstanceId,Value={instance}", "--start-time", start.isoformat(),
                 "--end-time", end.isoformat(), "--period", "300", "--statistics", "Sum")
    assert [p["Sum"] for p in summed["Datapoints"]] == [60.0], summed
    ok("the AWS CLI's `cloudwatch list-metrics` and `get-metric-statistics` with --endpoint-url")

    status, root = query(user_env, "ListMetrics", {
        "Dimensions.member.1.Name": "InstanceId", "Dimensions.member.1.Value": instance})
    names = sorted(e.text for e in root.iter(CW_NS + "MetricName"))
    assert (status, names) == (200, METRICS), ET.tostring(root)
    status, root = query(user_env, "GetMetricStatistics", {
        "Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
        "Dimensions.member.1.Name": "InstanceId", "Dimensions.member.1.Value": instance,
        "StartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "EndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Period": "300", "Statistics.member.1": "Maximum"})
    assert (status, float(root.findtext(f".//{CW_NS}Maximum"))) == (200, 40.0), ET.tostring(root)
    status, root = query(user_env, "DescribeAlarms", {"MaxRecords": "0"})
    assert (status, root.findtext(f".//{CW_NS}Code")) == (400, "InvalidParameterValue"), \
        ET.tostring(root)
    ok("the Query protocol answers the same: ListMetrics, GetMetricStatistics as XML; its errors as "
       "CloudWatch's error document")


class Hook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def states(received):
    return [(n["OldStateValue"], n["NewStateValue"]) for n in received]


def wait_for_posts(count, seconds=10):
    deadline = time.time() + seconds
    while len(Hook.received) < count and time.time() < deadline:
        time.sleep(0.1)
    # A post that should not come would come as soon as these did.
    time.sleep(1)
    return states(Hook.received)


def alarm(admin_dir, user_dir, other_dir, instance):
    admin, user, other = (cloudwatch(eucarc(d)) for d in (admin_dir, user_dir, other_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    wait_clear_of_period_end(40)
    put(admin, instance, "CPUUtilization", 20.0)

    def put_alarm(threshold):
        user.put_metric_alarm(
            AlarmName="busy", AlarmDescription="the instance is busy", MetricName="CPUUtilization",
            Namespace="AWS/EC2", Statistic="Maximum", Dimensions=dims(instance), Period=300,
            EvaluationPeriods=1, Threshold=threshold, ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[url], OKActions=[url], Unit="Percent")

    put_alarm(50.0)
    assert wait_for_posts(1) == [("INSUFFICIENT_DATA", "OK")], Hook.received
    put(admin, instance, "CPUUtilization", 90.0)
    put(admin, instance, "CPUUtilization", 95.0)
    assert wait_for_posts(2) == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM")], Hook.received
    fired = Hook.received[1]
    assert fired["AlarmName"] == "busy" and fired["Trigger"]["MetricName"] == "CPUUtilization", fired
    assert fired["Trigger"]["Dimensions"] == [{"name": "InstanceId", "value": instance}], fired
    assert fired["NewStateReason"].startswith("Threshold Crossed"), fired
    (shown,) = user.describe_alarms(AlarmNames=["busy"])["MetricAlarms"]
    assert shown["StateValue"] == "ALARM" and shown["Threshold"] == 50.0, shown
    assert shown["AlarmActions"] == [url] and shown["Dimensions"] == dims(instance), shown
    assert shown["AlarmArn"].endswith(":alarm:busy"), shown
    assert isinstance(shown["Period"], int) and shown["ActionsEnabled"] is True, shown
    binary = cloudwatch(eucarc(user_dir), cbor=True)
    assert binary.describe_alarms(AlarmNames=["busy"])["MetricAlarms"] == [shown]
    ok("the alarm fired once (OK to ALARM) to the webhook, with the CloudWatch notification's fields; "
       "a second breaching sample sent nothing more")

    # Put again with a higher threshold: the state is kept, and the evaluation recovers it.
    put_alarm(99.0)
    put(admin, instance, "CPUUtilization", 30.0)
    expected = [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]
    assert wait_for_posts(3) == expected, Hook.received
    (shown,) = user.describe_alarms(StateValue="OK")["MetricAlarms"]
    assert shown["Threshold"] == 99.0, shown
    assert user.describe_alarms(StateValue="ALARM")["MetricAlarms"] == []
    for_metric = user.describe_alarms_for_metric(MetricName="CPUUtilization", Namespace="AWS/EC2",
                                                 Dimensions=dims(instance))["MetricAlarms"]
    assert [a["AlarmName"] for a in for_metric] == ["busy"], for_metric
    ok("the alarm recovered once (ALARM to OK) when put again with a higher threshold")

    assert other.describe_alarms()["MetricAlarms"] == []
    expect_error(lambda: other.delete_alarms(AlarmNames=["busy"]), "ResourceNotFound", 404)
    expect_error(lambda: user.put_metric_alarm(
        AlarmName="sns", MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average",
        Dimensions=dims(instance), Period=300, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=["arn:aws:sns:us-east-1:1:t"]),
        "InvalidParameterValue", 400)
    user.delete_alarms(AlarmNames=["busy"])
    assert user.describe_alarms()["MetricAlarms"] == []
    assert len(Hook.received) == 3, Hook.received
    server.shutdown()
    ok("another account neither sees nor deletes the alarm; an SNS action is refused; DeleteAlarms")


def policy(user_dir, reader_key, nobody_key, instance):
    env = eucarc(user_dir)
    reader, nobody = cloudwatch(env, reader_key), cloudwatch(env, nobody_key)
    listed = reader.list_metrics(Dimensions=[{"Name": "InstanceId", "Value": instance}])["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == METRICS, listed
    assert reader.describe_alarms()["MetricAlarms"] == []
    expect_error(lambda: reader.put_metric_alarm(
        AlarmName="r", MetricName="CPUUtilization", Namespace="AWS/EC2", Statistic="Average",
        Dimensions=dims(instance), Period=300, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold"), "AccessDenied", 403)
    expect_error(lambda: nobody.list_metrics(), "AccessDenied", 403)
    ok("IAM users: cloudwatch:List*/Get*/Describe* read the account's metrics but set no alarm; "
       "no policy, no access")


def main():
    phase, args = sys.argv[1], sys.argv[2:]
    {"run": run, "metrics": metrics, "alarm": alarm, "policy": policy}[phase](*args)


if __name__ == "__main__":
    try:
        main()
    except ClientError as e:
        print("unexpected error:", e.response.get("Error"), file=sys.stderr)
        raise
