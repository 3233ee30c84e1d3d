"""Drives the cloud controller's IAM Query API (/services/Euare) with real clients: boto3's
`iam` client (SigV4, service `iam`), the AWS CLI's `aws iam`, raw requests signed by
botocore's SigV4 and SigV2 signers (Eucalyptus's account operations, which boto3 does not
know, and DelegateAccount), and boto3's `ec2` client with a key the API made.

Usage (run by tests/cloud_euare.rs): euare_clients.py ADMIN_DIR
  ADMIN_DIR holds the cloud administrator's eucarc; the IAM URL is its EC2_URL's with
  /services/Euare for /services/Eucalyptus.
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import boto3
import requests
from botocore.auth import SigV2Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from cloud_clients import eucarc, expect_error, ok

REGION = "us-east-1"
IAM_NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"


class Endpoints:
    def __init__(self, ec2_url):
        self.ec2 = ec2_url
        self.iam = ec2_url.replace("/services/Eucalyptus", "/services/Euare")


def iam(urls, key, secret):
    return boto3.client("iam", endpoint_url=urls.iam, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name=REGION, config=Config(retries={"max_attempts": 1}))


def ec2(urls, key, secret):
    return boto3.client("ec2", endpoint_url=urls.ec2, aws_access_key_id=key, aws_secret_access_key=secret,
                        region_name=REGION, config=Config(retries={"max_attempts": 1}))


def raw(urls, key, secret, action, params=None, version=4, method="POST"):
    """`action` as a form POST (or a GET with the parameters in the URL) signed by botocore's
    SigV4 (service iam) or SigV2 signer: (HTTP status, parsed XML root)."""
    fields = dict(params or {}, Action=action, Version="2010-05-08")
    if method == "POST":
        request = AWSRequest(method=method, url=urls.iam, data=fields)
        request.headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    else:
        request = AWSRequest(method=method, url=urls.iam, params=fields)
    if version == 4:
        SigV4Auth(Credentials(key, secret), "iam", REGION).add_auth(request)
    else:
        SigV2Auth(Credentials(key, secret)).add_auth(request)
    prepared = request.prepare()
    response = requests.request(method, prepared.url, data=prepared.body, headers=dict(prepared.headers))
    return response.status_code, ET.fromstring(response.content)


def text(root, name):
    """The text of the first element `name` in the answer."""
    found = root.find(".//" + IAM_NS + name)
    assert found is not None, f"no {name} in {ET.tostring(root)!r}"
    return found.text


def expect_raw_error(answer, code, status):
    got_status, root = answer
    got = (root.findtext(f"{IAM_NS}Error/{IAM_NS}Code"), got_status)
    assert got == (code, status), f"expected {code} {status}, got {got}: {ET.tostring(root)!r}"
    assert root.tag == IAM_NS + "ErrorResponse", root.tag
    assert root.findtext(f"{IAM_NS}Error/{IAM_NS}Type") == ("Receiver" if status >= 500 else "Sender")
    assert root.findtext(f"{IAM_NS}RequestId"), ET.tostring(root)


def accounts(urls, admin):
    """The cloud administrator makes account `acme` and a key for its root user."""
    key, secret = admin
    status, root = raw(urls, key, secret, "CreateAccount", {"AccountName": "acme"})
    assert status == 200, ET.tostring(root)
    assert root.tag == IAM_NS + "CreateAccountResponse", root.tag
    account_id = text(root, "AccountId")
    assert text(root, "AccountName") == "acme" and len(account_id) == 12 and account_id.isdigit(), account_id
    assert text(root, "RequestId")
    expect_raw_error(raw(urls, key, secret, "CreateAccount", {"AccountName": "acme"}), "EntityAlreadyExists", 409)
    status, root = raw(urls, key, secret, "ListAccounts")
    names = [a.findtext(IAM_NS + "AccountName") for a in root.iter(IAM_NS + "member")]
    assert status == 200 and "acme" in names and "admin" in names, names
    ok("CreateAccount and ListAccounts (the cloud administrator's, signed requests)")

    # DelegateAccount: the administrator acts in acme; no UserName is acme's root user.
    status, root = raw(urls, key, secret, "CreateAccessKey", {"DelegateAccount": "acme"})
    assert status == 200, ET.tostring(root)
    assert text(root, "UserName") == "admin" and text(root, "Status") == "Active"
    acme = (text(root, "AccessKeyId"), text(root, "SecretAccessKey"))
    ok("CreateAccessKey with DelegateAccount makes a key for the account's root user")
    return account_id, acme


def users_and_groups(client, account_id):
    made = client.create_user(UserName="alice")["User"]
    assert made["UserName"] == "alice" and made["Path"] == "/", made
    assert made["Arn"] == f"arn:aws:iam::{account_id}:user/alice", made
    assert made["UserId"].startswith("AIDA") and len(made["UserId"]) == 21, made
    client.create_user(UserName="bob", Path="/dev/")
    expect_error(lambda: client.create_user(UserName="alice"), "EntityAlreadyExists", 409)
    expect_error(lambda: client.create_user(UserName="no spaces"), "ValidationError", 400)
    assert client.get_user(UserName="alice")["User"]["UserId"] == made["UserId"]
    me = client.get_user()["User"]
    assert me["UserName"] == "admin" and me["Arn"] == f"arn:aws:iam::{account_id}:user/admin", me
    listed = [u["UserName"] for u in client.list_users()["Users"]]
    assert listed == ["admin", "alice", "bob"], listed
    assert [u["UserName"] for u in client.list_users(PathPrefix="/dev/")["Users"]] == ["bob"]
    page = client.list_users(MaxItems=2)
    assert page["IsTruncated"] and len(page["Users"]) == 2, page
    rest = client.list_users(Marker=page["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == ["bob"] and not rest["IsTruncated"], rest
    expect_error(lambda: client.get_user(UserName="nobody"), "NoSuchEntity", 404)
    ok("users: CreateUser, GetUser (by name and the caller), ListUsers (PathPrefix, pages), errors")

    group = client.create_group(GroupName="devs")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{account_id}:group/devs", group
    expect_error(lambda: client.create_group(GroupName="devs"), "EntityAlreadyExists", 409)
    client.create_group(GroupName="ops", Path="/ops/")
    client.add_user_to_group(GroupName="devs", UserName="alice")
    client.add_user_to_group(GroupName="ops", UserName="alice")
    got = client.get_group(GroupName="devs")
    assert [u["UserName"] for u in got["Users"]] == ["alice"] and got["Group"]["GroupName"] == "devs", got
    assert [g["GroupName"] for g in client.list_groups()["Groups"]] == ["devs", "ops"]
    assert [g["GroupName"] for g in client.list_groups(PathPrefix="/ops/")["Groups"]] == ["ops"]
    assert [g["GroupName"] for g in client.list_groups_for_user(UserName="alice")["Groups"]] == ["devs", "ops"]
    client.remove_user_from_group(GroupName="ops", UserName="alice")
    assert [g["GroupName"] for g in client.list_groups_for_user(UserName="alice")["Groups"]] == ["devs"]
    expect_error(lambda: client.add_user_to_group(GroupName="nogroup", UserName="alice"), "NoSuchEntity", 404)
    expect_error(lambda: client.add_user_to_group(GroupName="devs", UserName="nobody"), "NoSuchEntity", 404)
    expect_error(lambda: client.get_group(GroupName="nogroup"), "NoSuchEntity", 404)
    client.delete_group(GroupName="ops")
    expect_error(lambda: client.delete_group(GroupName="ops"), "NoSuchEntity", 404)
    ok("groups: CreateGroup, GetGroup with members, ListGroups, membership, DeleteGroup, errors")


def access_keys(client):
    first = client.create_access_key(UserName="alice")["AccessKey"]
    assert first["UserName"] == "alice" and first["Status"] == "Active" and first["SecretAccessKey"], first
    second = client.create_access_key(UserName="alice")["AccessKey"]
    expect_error(lambda: client.create_access_key(UserName="alice"), "LimitExceeded", 409)
    listed = client.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([first["AccessKeyId"], second["AccessKeyId"]]), listed
    assert all("SecretAccessKey" not in k for k in listed), listed
    client.update_access_key(UserName="alice", AccessKeyId=second["AccessKeyId"], Status="Inactive")
    status = {k["AccessKeyId"]: k["Status"] for k in client.list_access_keys(UserName="alice")["AccessKeyMetadata"]}
    assert status == {first["AccessKeyId"]: "Active", second["AccessKeyId"]: "Inactive"}, status
    client.delete_access_key(UserName="alice", AccessKeyId=second["AccessKeyId"])
    expect_error(lambda: client.delete_access_key(UserName="alice", AccessKeyId=second["AccessKeyId"]),
                 "NoSuchEntity", 404)
    assert len(client.list_access_keys(UserName="alice")["AccessKeyMetadata"]) == 1
    ok("access keys: two per user (a third is LimitExceeded), list, deactivate, delete")
    return first


def login_profiles(client):
    made = client.create_login_profile(UserName="alice", Password="Alice-console-1")["LoginProfile"]
    assert made["UserName"] == "alice" and made["CreateDate"], made
    expect_error(lambda: client.create_login_profile(UserName="alice", Password="Alice-console-2"),
                 "EntityAlreadyExists", 409)
    got = client.get_login_profile(UserName="alice")["LoginProfile"]
    assert got["UserName"] == "alice" and got["CreateDate"] == made["CreateDate"], got
    assert "Password" not in got, got
    client.update_login_profile(UserName="alice", Password="Alice-console-3")
    expect_error(lambda: client.update_login_profile(UserName="alice", Password="short"), "ValidationError", 400)
    expect_error(lambda: client.create_login_profile(UserName="nobody", Password="Nobody-console"),
                 "NoSuchEntity", 404)
    expect_error(lambda: client.delete_user(UserName="alice"), "DeleteConflict", 409)
    client.delete_login_profile(UserName="alice")
    expect_error(lambda: client.get_login_profile(UserName="alice"), "NoSuchEntity", 404)
    expect_error(lambda: client.update_login_profile(UserName="alice", Password="Alice-console-4"),
                 "NoSuchEntity", 404)
    ok("login profiles: create (once), get (no password), update, length rules, delete")


def policies(client):
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
    }
    client.put_user_policy(UserName="alice", PolicyName="describe", PolicyDocument=json.dumps(document))
    got = client.get_user_policy(UserName="alice", PolicyName="describe")
    # botocore decodes IAM's URL-encoded document into a dict.
    assert got["PolicyDocument"] == document and got["UserName"] == "alice", got
    assert client.list_user_policies(UserName="alice")["PolicyNames"] == ["describe"]
    expect_error(lambda: client.put_user_policy(UserName="alice", PolicyName="bad", PolicyDocument="{not json"),
                 "MalformedPolicyDocument", 400)
    expect_error(lambda: client.get_user_policy(UserName="alice", PolicyName="none"), "NoSuchEntity", 404)

    client.put_group_policy(GroupName="devs", PolicyName="everything", PolicyDocument=json.dumps(document))
    assert client.get_group_policy(GroupName="devs", PolicyName="everything")["PolicyDocument"] == document
    assert client.list_group_policies(GroupName="devs")["PolicyNames"] == ["everything"]
    expect_error(lambda: client.put_group_policy(GroupName="devs", PolicyName="bad", PolicyDocument="[]"),
                 "MalformedPolicyDocument", 400)
    client.delete_group_policy(GroupName="devs", PolicyName="everything")
    assert client.list_group_policies(GroupName="devs")["PolicyNames"] == []
    expect_error(lambda: client.delete_group_policy(GroupName="devs", PolicyName="everything"), "NoSuchEntity", 404)
    ok("policies of users and groups: put, get (the same document back), list, delete, malformed")


def delete_conflicts(client):
    expect_error(lambda: client.delete_user(UserName="alice"), "DeleteConflict", 409)
    expect_error(lambda: client.delete_group(GroupName="devs"), "DeleteConflict", 409)
    ok("DeleteUser and DeleteGroup refuse while keys, policies or members remain")


def main(admin_dir):
    env = eucarc(admin_dir)
    urls = Endpoints(env["EC2_URL"])
    admin = (env["EC2_ACCESS_KEY"], env["EC2_SECRET_KEY"])
    account_id, acme = accounts(urls, admin)
    root = iam(urls, *acme)
    users_and_groups(root, account_id)
    alice_key = access_keys(root)
    login_profiles(root)
    policies(root)
    delete_conflicts(root)

    # The root user's own keys (no UserName): the one CreateAccount made and ours; a key
    # made through the API signs EC2 requests of its account.
    own = root.list_access_keys()["AccessKeyMetadata"]
    assert len(own) == 2 and all(k["UserName"] == "admin" for k in own), own
    first = [k["AccessKeyId"] for k in own if k["AccessKeyId"] != acme[0]]
    root.delete_access_key(AccessKeyId=first[0])
    made = root.create_access_key()["AccessKey"]
    zones = ec2(urls, made["AccessKeyId"], made["SecretAccessKey"]).describe_availability_zones()
    assert "AvailabilityZones" in zones, zones
    root.update_access_key(AccessKeyId=made["AccessKeyId"], Status="Inactive")
    expect_error(lambda: ec2(urls, made["AccessKeyId"], made["SecretAccessKey"]).describe_key_pairs(),
                 "AuthFailure", 401)
    ok("a key CreateAccessKey made authenticates EC2 calls; once inactive it does not")

    # An IAM user without a policy allowing it is refused; only the administrator manages
    # accounts or acts in another.
    alice = iam(urls, alice_key["AccessKeyId"], alice_key["SecretAccessKey"])
    expect_error(lambda: alice.create_user(UserName="mallory"), "AccessDenied", 403)
    expect_error(lambda: alice.list_users(), "AccessDenied", 403)
    read_only = {"Version": "2012-10-17",
                 "Statement": [{"Effect": "Allow", "Action": ["iam:List*", "iam:Get*"], "Resource": "*"}]}
    root.put_user_policy(UserName="alice", PolicyName="iam-read", PolicyDocument=json.dumps(read_only))
    assert "alice" in [u["UserName"] for u in alice.list_users()["Users"]]
    expect_error(lambda: alice.create_user(UserName="mallory"), "AccessDenied", 403)
    # Resource-level permissions: the user's own ARN (a policy variable), and a Deny wins.
    own_keys = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:UpdateAccessKey", "Resource": "arn:aws:iam::*:user/${aws:username}"},
        {"Effect": "Deny", "Action": "iam:GetUser", "Resource": "*"}]}
    root.put_user_policy(UserName="alice", PolicyName="own-keys", PolicyDocument=json.dumps(own_keys))
    alice.update_access_key(AccessKeyId=alice_key["AccessKeyId"], Status="Active")
    bob_key = root.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    expect_error(lambda: alice.update_access_key(UserName="bob", AccessKeyId=bob_key, Status="Inactive"),
                 "AccessDenied", 403)
    expect_error(lambda: alice.get_user(), "AccessDenied", 403)
    expect_raw_error(raw(urls, *acme, "CreateAccount", {"AccountName": "evil"}), "AccessDenied", 403)
    expect_raw_error(raw(urls, *acme, "ListUsers", {"DelegateAccount": "admin"}), "AccessDenied", 403)
    ok("a user needs a policy's Allow (iam:List* lets it list, not create; on its own ARN only), a Deny wins; "
       "a root user cannot manage accounts or delegate")

    # SigV2 works too, and the front door's failures have IAM's codes.
    for version, method in [(2, "POST"), (2, "GET"), (4, "GET")]:
        status, body = raw(urls, *acme, "ListUsers", version=version, method=method)
        names = [u.text for u in body.iter(IAM_NS + "UserName")]
        assert status == 200 and "alice" in names, (version, method, ET.tostring(body))
    expect_raw_error(raw(urls, acme[0], "wrong-secret", "ListUsers"), "SignatureDoesNotMatch", 403)
    expect_raw_error(raw(urls, acme[0], "wrong-secret", "ListUsers", version=2), "SignatureDoesNotMatch", 403)
    expect_raw_error(raw(urls, "AKIANOSUCHKEY", acme[1], "ListUsers"), "InvalidClientTokenId", 403)
    expect_raw_error(raw(urls, *acme, "Frobnicate"), "InvalidAction", 400)
    ok("SigV2 POST and GET and SigV4 GET are answered; bad signatures, unknown keys and actions have IAM's codes")

    # The AWS CLI, configured with the endpoint alone.
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    cli_env = dict(os.environ, AWS_ACCESS_KEY_ID=acme[0], AWS_SECRET_ACCESS_KEY=acme[1],
                   AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    out = subprocess.run([aws, "iam", "list-users", "--endpoint-url", urls.iam, "--output", "json"],
                         capture_output=True, text=True, env=cli_env)
    assert out.returncode == 0, out.stderr
    assert "alice" in [u["UserName"] for u in json.loads(out.stdout)["Users"]], out.stdout
    ok("aws iam list-users --endpoint-url")

    # The administrator deletes the account: refused while it holds users, unless recursive.
    expect_raw_error(raw(urls, *admin, "DeleteAccount", {"AccountName": "acme"}), "DeleteConflict", 409)
    status, body = raw(urls, *admin, "DeleteAccount", {"AccountName": "acme", "Recursive": "true"})
    assert status == 200, ET.tostring(body)
    expect_raw_error(raw(urls, *acme, "ListUsers"), "InvalidClientTokenId", 403)
    ok("DeleteAccount: DeleteConflict while it holds users, Recursive deletes them and their keys")


if __name__ == "__main__":
    main(sys.argv[1])
