"""Drives the cloud controller's EC2 Query API with real clients, each configured from an
eucarc alone: boto3 (SigV4), the AWS CLI (SigV4), botocore's SigV2 signer, and hand-made
SigV2 variants (HmacSHA1, GET, the path left out of the string to sign).

Phases (run by tests/cloud_query.rs):
  main USER_DIR ADMIN_DIR   every operation as the admin; errors; a second user isolated
  disabled USER_DIR         a disabled user's requests are refused
  restarted ADMIN_DIR       after a restart: the same credentials, the same keypairs
  captures USER_DIR FILE    euca2ools 1.0's recorded requests re-signed with the user's keys
  zones ADMIN_DIR ZONE DEAD DescribeAvailabilityZones: a real cluster, and one that is down
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.parse

import boto3
import botocore
import requests
from botocore.auth import SigV2Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

VARIABLES = [
    "EC2_URL",
    "S3_URL",
    "EC2_ACCESS_KEY",
    "EC2_SECRET_KEY",
    "EC2_CERT",
    "EC2_PRIVATE_KEY",
    "EUCALYPTUS_CERT",
    "EC2_USER_ID",
    "AWS_DEFAULT_REGION",
]


def ok(what):
    print("ok:", what, flush=True)


def eucarc(folder):
    """The eucarc's variables, as a shell that sources it sees them."""
    script = 'source "$1/eucarc" && for v in ' + " ".join(VARIABLES) + '; do printf "%s=%s\\n" "$v" "${!v}"; done'
    out = subprocess.run(
        ["bash", "-c", script, "bash", folder], check=True, capture_output=True, text=True, env={}
    ).stdout
    env = dict(line.split("=", 1) for line in out.splitlines())
    for name in VARIABLES:
        assert env.get(name), f"eucarc in {folder} does not export {name}"
    for name in ["EC2_CERT", "EC2_PRIVATE_KEY", "EUCALYPTUS_CERT"]:
        assert os.path.isfile(env[name]), f"{name}={env[name]} is not a file"
    return env


def ec2(env, secret=None, key=None, region=None):
    return boto3.client(
        "ec2",
        endpoint_url=env["EC2_URL"],
        aws_access_key_id=key or env["EC2_ACCESS_KEY"],
        aws_secret_access_key=secret or env["EC2_SECRET_KEY"],
        region_name=region or env["AWS_DEFAULT_REGION"],
        config=Config(retries={"max_attempts": 1}),
    )


def aws_cli(env, service="ec2", url=None):
    """`aws ec2 ...` (or `service`'s, at `url`) configured from the eucarc alone: returns its
    parsed JSON output."""
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    cli_env = dict(os.environ, AWS_ACCESS_KEY_ID=env["EC2_ACCESS_KEY"], AWS_SECRET_ACCESS_KEY=env["EC2_SECRET_KEY"],
                   AWS_DEFAULT_REGION=env["AWS_DEFAULT_REGION"], AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null")

    def cli(*args):
        out = subprocess.run([aws, "--endpoint-url", url or env["EC2_URL"], "--output", "json", service, *args],
                             capture_output=True, text=True, env=cli_env)
        assert out.returncode == 0, f"aws {service} {args}: {out.stderr}"
        return json.loads(out.stdout) if out.stdout.strip() else {}

    return cli


def wait_for(c, instance, state, seconds=90):
    """The instance as DescribeInstances shows it once in `state`, or when `seconds` ran out."""
    deadline = time.time() + seconds
    while True:
        found = c.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        if found["State"]["Name"] == state or time.time() > deadline:
            return found
        time.sleep(0.5)


def account_id(c):
    """The caller's account's 12-digit id: the owner id of its default security group."""
    (default,) = c.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    owner = default["OwnerId"]
    assert len(owner) == 12 and owner.isdigit(), owner
    return owner


def expect_error(call, code, status):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), f"expected {code} {status}, got {got}: {e.response['Error']}"
        return
    raise AssertionError(f"expected {code} {status}, the call succeeded")


def check_keypairs(c):
    made = c.create_key_pair(KeyName="k1")
    material = made["KeyMaterial"]
    assert material.startswith("-----BEGIN RSA PRIVATE KEY-----"), material[:40]
    # EC2's fingerprint of a key it generated: SHA-1 of the PKCS#8 DER private key.
    der = subprocess.run(
        ["openssl", "pkcs8", "-topk8", "-nocrypt", "-outform", "DER"],
        input=material.encode(), capture_output=True, check=True,
    ).stdout
    expected = ":".join(f"{b:02x}" for b in hashlib.sha1(der).digest())
    assert made["KeyFingerprint"] == expected, (made["KeyFingerprint"], expected)
    listed = c.describe_key_pairs()["KeyPairs"]
    assert [(k["KeyName"], k["KeyFingerprint"]) for k in listed] == [("k1", expected)], listed
    assert "KeyMaterial" not in json.dumps(listed)
    expect_error(lambda: c.create_key_pair(KeyName="k1"), "InvalidKeyPair.Duplicate", 400)
    expect_error(lambda: c.describe_key_pairs(KeyNames=["nope"]), "InvalidKeyPair.NotFound", 400)
    c.create_key_pair(KeyName="k2")
    assert [k["KeyName"] for k in c.describe_key_pairs(KeyNames=["k2"])["KeyPairs"]] == ["k2"]
    by_filter = c.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["k?"]},
                                              {"Name": "fingerprint", "Values": [expected]}])["KeyPairs"]
    assert [k["KeyName"] for k in by_filter] == ["k1"], by_filter
    expect_error(lambda: c.describe_key_pairs(Filters=[{"Name": "colour", "Values": ["red"]}]),
                 "InvalidParameterValue", 400)
    c.delete_key_pair(KeyName="k2")
    assert [k["KeyName"] for k in c.describe_key_pairs()["KeyPairs"]] == ["k1"]
    ok("boto3 keypairs: create (fingerprint), describe (by name, by filter), duplicate, not found, delete")


def check_groups(c):
    names = [g["GroupName"] for g in c.describe_security_groups()["SecurityGroups"]]
    assert names == ["default"], names
    c.create_security_group(GroupName="web", Description="web servers")
    expect_error(lambda: c.create_security_group(GroupName="web", Description="x"), "InvalidGroup.Duplicate", 400)
    c.authorize_security_group_ingress(GroupName="web", IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="0.0.0.0/0")
    c.authorize_security_group_ingress(
        GroupName="web",
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
             "UserIdGroupPairs": [{"GroupName": "default"}]},
            {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "192.168.0.0/16"}]},
        ],
    )
    expect_error(
        lambda: c.authorize_security_group_ingress(GroupName="web", IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="0.0.0.0/0"),
        "InvalidPermission.Duplicate", 400,
    )
    expect_error(
        lambda: c.authorize_security_group_ingress(GroupName="web", IpProtocol="tcp", FromPort=80, ToPort=70, CidrIp="0.0.0.0/0"),
        "InvalidParameterValue", 400,
    )
    expect_error(
        lambda: c.authorize_security_group_ingress(GroupName="nope", IpProtocol="tcp", FromPort=1, ToPort=1, CidrIp="0.0.0.0/0"),
        "InvalidGroup.NotFound", 400,
    )
    (web,) = c.describe_security_groups(GroupNames=["web"])["SecurityGroups"]
    assert web["Description"] == "web servers", web
    by_filter = c.describe_security_groups(Filters=[{"Name": "description", "Values": ["web *"]}])["SecurityGroups"]
    assert by_filter == [web], by_filter
    perms = {(p["IpProtocol"], p["FromPort"], p["ToPort"]): p for p in web["IpPermissions"]}
    assert set(perms) == {("tcp", 80, 80), ("tcp", 22, 22), ("icmp", -1, -1)}, perms
    assert [r["CidrIp"] for r in perms[("tcp", 22, 22)]["IpRanges"]] == ["10.0.0.0/8"]
    assert [g["GroupName"] for g in perms[("tcp", 22, 22)]["UserIdGroupPairs"]] == ["default"]
    c.revoke_security_group_ingress(GroupName="web", IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="0.0.0.0/0")
    expect_error(
        lambda: c.revoke_security_group_ingress(GroupName="web", IpProtocol="tcp", FromPort=80, ToPort=80, CidrIp="0.0.0.0/0"),
        "InvalidPermission.NotFound", 400,
    )
    (web,) = c.describe_security_groups(GroupNames=["web"])["SecurityGroups"]
    assert ("tcp", 80, 80) not in {(p["IpProtocol"], p["FromPort"], p["ToPort"]) for p in web["IpPermissions"]}
    expect_error(lambda: c.delete_security_group(GroupName="default"), "InvalidGroup.Reserved", 400)
    c.create_security_group(GroupName="src", Description="a source")
    c.authorize_security_group_ingress(
        GroupName="web", IpPermissions=[{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53,
                                         "UserIdGroupPairs": [{"GroupName": "src"}]}])
    expect_error(lambda: c.delete_security_group(GroupName="src"), "InvalidGroup.InUse", 400)
    c.delete_security_group(GroupName="web")
    c.delete_security_group(GroupName="src")
    expect_error(lambda: c.delete_security_group(GroupName="web"), "InvalidGroup.NotFound", 400)
    expect_error(lambda: c.describe_security_groups(GroupNames=["web"]), "InvalidGroup.NotFound", 400)
    ok("boto3 security groups: default, create, rules by CIDR and group, duplicate, revoke, reserved, in use, delete")


def check_facts(c, env):
    regions = c.describe_regions()["Regions"]
    assert regions == [{"RegionName": env["AWS_DEFAULT_REGION"], "Endpoint": env["EC2_URL"]}], regions
    attrs = c.describe_account_attributes()["AccountAttributes"]
    assert attrs == [{"AttributeName": "supported-platforms", "AttributeValues": [{"AttributeValue": "EC2"}]}], attrs
    assert c.describe_reserved_instances()["ReservedInstances"] == []
    assert c.describe_reserved_instances_offerings()["ReservedInstancesOfferings"] == []
    # SigV4 is checked with the region the client's scope names (euca2ools: undefined-<pid>).
    assert ec2(env, region="undefined-4242").describe_regions()["Regions"] == regions
    ok("boto3 regions (SigV4 in any region's scope), account attributes, reserved instances")


def check_cli(env):
    cli = aws_cli(env)
    made = cli("create-key-pair", "--key-name", "cli-key")
    assert made["KeyName"] == "cli-key" and made["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    names = [k["KeyName"] for k in cli("describe-key-pairs")["KeyPairs"]]
    assert "cli-key" in names, names
    cli("delete-key-pair", "--key-name", "cli-key")
    cli("create-security-group", "--group-name", "cli-group", "--description", "from the CLI")
    cli("authorize-security-group-ingress", "--group-name", "cli-group", "--protocol", "tcp", "--port", "22",
        "--cidr", "10.1.0.0/16")
    (group,) = cli("describe-security-groups", "--group-names", "cli-group")["SecurityGroups"]
    assert [(p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in group["IpPermissions"]] == [(22, "10.1.0.0/16")]
    cli("delete-security-group", "--group-name", "cli-group")
    assert cli("describe-regions")["Regions"][0]["RegionName"] == env["AWS_DEFAULT_REGION"]
    ok("aws cli: keypairs, security groups and rules, regions")


def sigv2_botocore(env, params):
    """A POST signed by botocore's own SigV2 signer (HmacSHA256, path included)."""
    request = AWSRequest(method="POST", url=env["EC2_URL"], data=dict(params, Version="2009-04-04"))
    SigV2Auth(Credentials(env["EC2_ACCESS_KEY"], env["EC2_SECRET_KEY"])).add_auth(request)
    return requests.post(env["EC2_URL"], data=request.data)


def sigv2_by_hand(env, params, method="GET", digest=hashlib.sha1, signed_path=None, stamp=None, secret=None,
                  path=None, zone="Z"):
    """SigV2 made here, for the variants botocore does not send: sent to `path` (default
    EC2_URL's), signed over `signed_path` (default the path sent), Timestamp ending in `zone`."""
    url = urllib.parse.urlsplit(env["EC2_URL"])
    path = path or url.path
    target = f"{url.scheme}://{url.netloc}{path}"
    stamp = stamp or datetime.datetime.now(datetime.timezone.utc)
    params = dict(
        {"Version": "2009-04-04"},
        **params,
        AWSAccessKeyId=env["EC2_ACCESS_KEY"],
        SignatureVersion="2",
        SignatureMethod="HmacSHA1" if digest is hashlib.sha1 else "HmacSHA256",
        Timestamp=stamp.strftime("%Y-%m-%dT%H:%M:%S") + zone,
    )
    query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}" for k, v in sorted(params.items())
    )
    text = f"{method}\n{url.netloc}\n{signed_path or path}\n{query}"
    key = (secret or env["EC2_SECRET_KEY"]).encode()
    params["Signature"] = base64.b64encode(hmac.new(key, text.encode(), digest).digest()).decode()
    if method == "GET":
        return requests.get(target, params=params)
    return requests.post(target, data=params)


def error_of(response):
    """(Code, HTTP status) of an EC2 error document."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(response.content)
    assert root.tag == "Response", response.text
    return root.findtext("Errors/Error/Code"), response.status_code, root.findtext("RequestID")


def check_sigv2(env):
    answer = sigv2_botocore(env, {"Action": "DescribeKeyPairs"})
    assert answer.status_code == 200 and ">k1<" in answer.text, answer.text
    answer = sigv2_by_hand(env, {"Action": "DescribeRegions"})
    assert answer.status_code == 200 and "regionName" in answer.text, answer.text
    answer = sigv2_by_hand(env, {"Action": "DescribeRegions"}, method="POST", digest=hashlib.sha256, signed_path="/")
    assert answer.status_code == 200 and "regionName" in answer.text, answer.text
    import xml.etree.ElementTree as ET

    for version, namespace in [("2008-12-01", "2008-12-01"), ("2016-11-15", "2009-04-04")]:
        answer = sigv2_by_hand(env, {"Action": "DescribeRegions", "Version": version})
        tag = ET.fromstring(answer.content).tag
        assert tag == f"{{http://ec2.amazonaws.com/doc/{namespace}/}}DescribeRegionsResponse", (version, tag)
    ok("SigV2: botocore's signer, HmacSHA1 over GET, HmacSHA256 over POST without the service path; "
       "answers in the request's bound version, else 2009-04-04")


def check_errors(env):
    expect_error(lambda: ec2(env, secret="wrong" * 8).describe_regions(), "SignatureDoesNotMatch", 403)
    expect_error(lambda: ec2(env, key="AKIDONOTEXIST0000000").describe_regions(), "InvalidClientTokenId", 401)
    hour_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    code, status, request_id = error_of(sigv2_by_hand(env, {"Action": "DescribeRegions"}, stamp=hour_ago))
    assert (code, status) == ("RequestExpired", 400) and request_id, (code, status, request_id)
    code, status, _ = error_of(sigv2_by_hand(env, {"Action": "DescribeRegions"}, secret="wrong"))
    assert (code, status) == ("SignatureDoesNotMatch", 403), (code, status)
    code, status, _ = error_of(sigv2_by_hand(env, {"Action": "RunAway"}))
    assert (code, status) == ("InvalidAction", 400), (code, status)
    code, status, _ = error_of(sigv2_by_hand(env, {"Action": "CreateKeyPair"}))
    assert (code, status) == ("MissingParameter", 400), (code, status)
    code, status, _ = error_of(sigv2_by_hand(env, {"Action": "DescribeRegions", "Bogus": "1"}))
    assert (code, status) == ("UnknownParameter", 400), (code, status)
    # A cloud without a storage controller says it has no volumes.
    code, status, _ = error_of(sigv2_by_hand(env, {"Action": "CreateVolume", "Size": "1", "AvailabilityZone": "zone1"}))
    assert (code, status) == ("Unsupported", 400), (code, status)
    code, status, _ = error_of(requests.get(env["EC2_URL"], params={"Action": "DescribeRegions"}))
    assert (code, status) == ("MissingParameter", 400), (code, status)
    ok("errors: wrong signature 403, unknown key 401, expired 400, unknown action, missing and unknown "
       "parameters, volumes without a storage controller")


# What euca2ools 1.0 sent for the operations served so far, and what each must get.
CAPTURED = {
    "DescribeRegions": 200,
    "DescribeAvailabilityZones": 200,
    "CreateKeyPair": 200,
    "DescribeKeyPairs": 200,
    "DeleteKeyPair": 200,
    "CreateSecurityGroup": 200,
    "AuthorizeSecurityGroupIngress": 200,
    "RevokeSecurityGroupIngress": 200,
    "DescribeSecurityGroups": 200,
    "DeleteSecurityGroup": 200,
}


def recorded(captures, actions):
    """The recorded requests of `actions` in the file `captures`, in order: each as its action,
    its parameters without the signature's, and a function that sends given parameters to
    the cloud of an eucarc as it was sent (method and path), re-signed as euca2ools 1.0 signs
    (HmacSHA256, a Timestamp without a zone)."""
    with open(captures) as f:
        for line in f:
            capture = json.loads(line)
            action = capture["params"].get("Action")
            if action not in actions:
                continue
            params = {k: v for k, v in capture["params"].items()
                      if k not in ("AWSAccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "Timestamp")}
            method, path = capture["method"], capture["path"].split("?")[0]

            def resend(env, params, method=method, path=path):
                return sigv2_by_hand(env, params, method=method, digest=hashlib.sha256, path=path, zone="")

            yield action, params, resend


def check_captures(env, captures):
    """The recorded euca2ools 1.0 requests, re-signed with this user's keys as euca2ools 1.0
    signs (GET to /services/Eucalyptus/, HmacSHA256, a Timestamp without a zone)."""
    c = ec2(env)
    for key in c.describe_key_pairs()["KeyPairs"]:  # the captures make their own
        c.delete_key_pair(KeyName=key["KeyName"])
    sent = []
    for action, params, resend in recorded(captures, CAPTURED):
        if params.get("SourceSecurityGroupOwnerId"):
            # The capture names another cloud's account: here, this user's own group.
            params["SourceSecurityGroupOwnerId"] = ""
            sigv2_by_hand(env, {"Action": "CreateSecurityGroup", "GroupName": params["SourceSecurityGroupName"],
                                "GroupDescription": "source"})
        answer = resend(env, params)
        assert answer.status_code == CAPTURED[action], (action, answer.status_code, answer.text)
        assert f"{action}Response" in answer.text, answer.text
        sent.append(action)
    assert set(sent) == set(CAPTURED), sent
    ok(f"{len(sent)} recorded euca2ools 1.0 requests, re-signed with the user's keys, answered")


def check_isolation(admin_env, user_env):
    admin, user = ec2(admin_env), ec2(user_env)
    assert user.describe_key_pairs()["KeyPairs"] == []
    expect_error(lambda: user.describe_key_pairs(KeyNames=["k1"]), "InvalidKeyPair.NotFound", 400)
    user.delete_key_pair(KeyName="k1")  # EC2 answers true; the admin's key must stay
    assert [k["KeyName"] for k in admin.describe_key_pairs()["KeyPairs"]] == ["k1"]
    user.create_key_pair(KeyName="k1")
    user.create_security_group(GroupName="mine", Description="the user's")
    assert "mine" not in [g["GroupName"] for g in admin.describe_security_groups()["SecurityGroups"]]
    expect_error(lambda: admin.delete_security_group(GroupName="mine"), "InvalidGroup.NotFound", 400)
    everyone = admin.describe_key_pairs(KeyNames=["verbose"])["KeyPairs"]
    assert sorted(k["KeyName"] for k in everyone) == ["k1", "k1"], everyone
    owners = {g["OwnerId"] for g in admin.describe_security_groups(GroupNames=["verbose"])["SecurityGroups"]}
    assert len(owners) == 2, owners
    ok("a second user sees and touches only their own keypairs and groups; the admin's verbose sees all")


def main():
    phase = sys.argv[1]
    if phase == "main":
        user_env, admin_env = eucarc(sys.argv[2]), eucarc(sys.argv[3])
        c = ec2(admin_env)
        check_keypairs(c)
        check_groups(c)
        check_facts(c, admin_env)
        check_cli(admin_env)
        check_sigv2(admin_env)
        check_errors(admin_env)
        check_isolation(admin_env, user_env)
    elif phase == "captures":
        check_captures(eucarc(sys.argv[2]), sys.argv[3])
    elif phase == "restarted":
        c = ec2(eucarc(sys.argv[2]))
        assert [k["KeyName"] for k in c.describe_key_pairs()["KeyPairs"]] == ["k1"]
        assert [g["GroupName"] for g in c.describe_security_groups()["SecurityGroups"]] == ["default"]
        ok("after a restart the same credentials work and the keypairs are kept")
    elif phase == "disabled":
        expect_error(lambda: ec2(eucarc(sys.argv[2])).describe_regions(), "AuthFailure", 401)
        ok("a disabled user is refused")
    elif phase == "zones":
        env, zone, dead = eucarc(sys.argv[2]), sys.argv[3], sys.argv[4]
        c = ec2(env)
        deadline = time.time() + 20
        while True:
            zones = c.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
            lines = [(z["ZoneName"], z["State"]) for z in zones]
            mine = lines[lines.index((zone, "available")) + 2:] if (zone, "available") in lines else []
            if mine and not mine[0][1].startswith("0000 / 0000") or time.time() > deadline:
                break
            time.sleep(0.5)
        print(lines)
        region = env["AWS_DEFAULT_REGION"]
        plain = [(z["ZoneName"], z["State"], z["RegionName"]) for z in c.describe_availability_zones()["AvailabilityZones"]]
        assert plain == [(dead, "unavailable", region), (zone, "available", region)], plain
        only = c.describe_availability_zones(ZoneNames=[zone])["AvailabilityZones"]
        assert [z["ZoneName"] for z in only] == [zone], only
        up = c.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"]
        assert [z["ZoneName"] for z in up] == [zone], up
        # Per zone: its line, the header, then one line per VM type, smallest first.
        assert lines[0] == (dead, "unavailable") and lines[7] == (zone, "available"), lines
        for start in (0, 7):
            assert lines[start + 1] == ("|- vm types", "free / max   cpu   ram  disk"), lines
        types = ["|- m1.small", "|- c1.medium", "|- m1.large", "|- m1.xlarge", "|- c1.xlarge"]
        assert [n for n, _ in lines[2:7]] == types and [n for n, _ in lines[9:]] == types, lines
        assert all(s.startswith("0000 / 0000") for _, s in lines[2:7]), lines
        states = dict(lines[9:])
        # One node of 8 cores, 2048 MB and 11 GB: m1.small (1 core, 128 MB, 2 GB) fits 5 times,
        # c1.xlarge (20 GB of disk) not at all.
        assert states["|- m1.small"].split() == ["0005", "/", "0005", "1", "128", "2"], states
        assert states["|- c1.xlarge"].split()[:3] == ["0000", "/", "0000"], states
        ok("zones: one per cluster, unavailable when its CC does not answer; per VM type capacity with verbose")
    else:
        sys.exit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()
