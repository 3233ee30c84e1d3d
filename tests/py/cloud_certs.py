"""An IAM user's certificate from `euca admin user cert` signs EC2 SOAP requests (zeep +
xmlsec, as tests/py/cloud_soap.py signs the root user's) and they are answered as that user:
its own policies decide, and what it makes belongs to its account.

Phases (run by tests/cloud_certs.rs):
  acts WSDL ROOT_ZIP USER_ZIP     the user (allowed everything) makes a key pair over SOAP;
                                  its account's root user sees it
  limited WSDL ROOT_ZIP USER_ZIP  the user (now allowed only ec2:Describe*) describes but is
                                  refused CreateKeyPair with UnauthorizedOperation, which the
                                  root user of the same account is not
  iam WSDL ROOT_ZIP USER_ZIP      boto3 `iam` as the account's root user lists the user's
                                  certificate, deletes it (its SOAP requests are refused from
                                  then on), uploads it again (accepted again); malformed and
                                  duplicate certificates are refused; the user itself, allowed
                                  no iam: action, may not list its own
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import sys

import boto3
from botocore.config import Config

from cloud_clients import expect_error, ok
from cloud_soap import User, expect_fault, key_names


def check_acts(wsdl, root_zip, user_zip):
    root, user = User(wsdl, root_zip), User(wsdl, user_zip)
    created = user.ec2.CreateKeyPair(keyName="dev-key")
    assert created["keyName"] == "dev-key", created
    assert key_names(root.ec2) == ["dev-key"], key_names(root.ec2)
    ok("the IAM user's certificate signs CreateKeyPair; the key pair is its account's")


def check_limited(wsdl, root_zip, user_zip):
    root, user = User(wsdl, root_zip), User(wsdl, user_zip)
    assert key_names(user.ec2) == ["dev-key"], key_names(user.ec2)
    expect_fault(lambda: user.ec2.CreateKeyPair(keyName="dev-other"), "UnauthorizedOperation")
    assert root.ec2.CreateKeyPair(keyName="root-key")["keyName"] == "root-key"
    root.ec2.DeleteKeyPair(keyName="root-key")
    ok("the certificate's requests are judged by the IAM user's own policy, not its root's")


def iam(user):
    """boto3's `iam` client with the access key of `user`'s eucarc."""
    return boto3.client(
        "iam",
        endpoint_url=user.url.replace("/services/Eucalyptus", "/services/Euare"),
        aws_access_key_id=user.env["EC2_ACCESS_KEY"],
        aws_secret_access_key=user.env["EC2_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


def certificates(client, name):
    return client.list_signing_certificates(UserName=name)["Certificates"]


def check_iam(wsdl, root_zip, user_zip):
    root, user = User(wsdl, root_zip), User(wsdl, user_zip)
    client = iam(root)
    with open(user.env["EC2_CERT"]) as f:
        body = f.read()
    (listed,) = certificates(client, "dev")
    assert (listed["UserName"], listed["CertificateBody"], listed["Status"]) == ("dev", body, "Active"), listed
    cert_id = listed["CertificateId"]
    assert len(cert_id) == 40 and listed["UploadDate"], listed
    ok("ListSigningCertificates: the user's certificate, Active, with its id and date")

    client.delete_signing_certificate(UserName="dev", CertificateId=cert_id)
    assert certificates(client, "dev") == []
    fault = expect_fault(lambda: user.ec2.DescribeKeyPairs(keySet={"item": []}), "AuthFailure")
    assert "not one of" in fault.message, fault.message
    expect_error(lambda: client.delete_signing_certificate(UserName="dev", CertificateId=cert_id), "NoSuchEntity", 404)
    ok("DeleteSigningCertificate: the certificate is gone and its SOAP requests are refused")

    # Uploaded with other line breaks, it is the same certificate.
    uploaded = client.upload_signing_certificate(UserName="dev", CertificateBody=body.replace("\n", "\r\n"))
    assert uploaded["Certificate"]["CertificateId"] == cert_id, uploaded
    assert [c["CertificateId"] for c in certificates(client, "dev")] == [cert_id]
    assert key_names(user.ec2) == ["dev-key"]
    ok("UploadSigningCertificate: the certificate is the user's again and signs its requests")

    expect_error(lambda: client.upload_signing_certificate(UserName="dev", CertificateBody="not a certificate"),
                 "MalformedCertificate", 400)
    with open(root.env["EC2_CERT"]) as f:
        roots = f.read()
    expect_error(lambda: client.upload_signing_certificate(UserName="dev", CertificateBody=roots),
                 "DuplicateCertificate", 409)
    expect_error(lambda: certificates(client, "nobody"), "NoSuchEntity", 404)
    expect_error(lambda: iam(user).list_signing_certificates(), "AccessDenied", 403)
    assert [c["CertificateId"] for c in certificates(client, "dev")] == [cert_id]
    ok("malformed and duplicate certificates, unknown users and unauthorized callers are refused")


def main():
    phase, wsdl, root_zip, user_zip = sys.argv[1:5]
    {"acts": check_acts, "limited": check_limited, "iam": check_iam}[phase](wsdl, root_zip, user_zip)


if __name__ == "__main__":
    main()
