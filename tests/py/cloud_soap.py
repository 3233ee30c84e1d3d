"""Drives the cloud controller's EC2 API over SOAP as its users: zeep loads our
wsdl/ec2_2009-04-04.wsdl and signs each request with xmlsec (zeep's BinarySignature: the
user's certificate as an X.509 token, exc-c14n, RSA-SHA1, over the Body and a Timestamp),
with the certificate and key from the credentials zip `euca admin` wrote, unpacked here.
The endpoint is the eucarc's EC2_URL, the same as Query's.

Phases (run by tests/cloud_soap.rs):
  api WSDL ADMIN_ZIP USER_ZIP  keypairs, groups and rules, regions, zones, images; EC2's codes
                               in faults; the second user's certificate acts as that user;
                               Query at the same URL sees what SOAP made
  security WSDL ADMIN_ZIP      refusals: a stranger's certificate, no signature, a broken
                               signature, an expired Timestamp, a replay; another version's
                               namespace answered in it
  refused WSDL USER_ZIP WHY    a disabled or deleted user's certificate is refused (the fault
                               says WHY: disabled, not one of this cloud's users)
  untimestamped WSDL ADMIN_ZIP VERDICT  a request signed without a Timestamp is accepted
                               (`--compat original`) or refused (the default), as VERDICT says
  instances WSDL ADMIN_ZIP USER_ZIP  images registered, an instance run to running, described,
                               its console read, rebooted, terminated to terminated; the second
                               user sees and touches none of it
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import datetime
import os
import sys
import tempfile
import time
import zipfile

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from zeep import Client
from zeep.exceptions import Fault
from zeep.wsse.signature import BinarySignature
from zeep.wsse.utils import WSU, get_security_header, get_timestamp

from cloud_clients import ec2, eucarc, ok

EC2 = "http://ec2.amazonaws.com/doc/2009-04-04/"
OLDER = "http://ec2.amazonaws.com/doc/2008-12-01/"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
BINDING = f"{{{EC2}}}AmazonEC2Binding"


def timestamp(envelope, created):
    """Adds a wsu:Timestamp created at `created`, expiring five minutes later."""
    get_security_header(envelope).append(
        WSU.Timestamp(
            WSU.Created(get_timestamp(created, zulu_timestamp=True)),
            WSU.Expires(get_timestamp(created + datetime.timedelta(minutes=5), zulu_timestamp=True)),
        )
    )


class UserSignature(BinarySignature):
    """zeep's BinarySignature with a Timestamp (created `age` ago; none when `age` is None)
    signed beside the Body.

    The cloud's replies are not signed, as the original's were not: there is nothing to
    verify them with but TLS, so `verify` checks only that they carry no header at all.
    """

    def __init__(self, key_file, cert_file, age=datetime.timedelta(0)):
        super().__init__(key_file, cert_file)
        self.age = age

    def apply(self, envelope, headers):
        if self.age is not None:
            timestamp(envelope, datetime.datetime.now(datetime.timezone.utc) - self.age)
        return super().apply(envelope, headers)

    def verify(self, envelope):
        assert envelope.find(f"{{{SOAP}}}Header") is None, "the reply carries a header"
        return envelope


class User:
    """A user's credentials from their zip, and zeep services signing with them."""

    def __init__(self, wsdl, zip_path):
        self.folder = tempfile.mkdtemp()
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(self.folder)
        self.env = eucarc(self.folder)
        self.url = self.env["EC2_URL"]
        self.client = Client(wsdl, wsse=UserSignature(self.env["EC2_PRIVATE_KEY"], self.env["EC2_CERT"]))
        self.ec2 = self.client.create_service(BINDING, self.url)

    def signer(self, **kwargs):
        return UserSignature(self.env["EC2_PRIVATE_KEY"], self.env["EC2_CERT"], **kwargs)


def expect_fault(call, code):
    """`call` must fail with a SOAP fault whose code is Client.CODE (EC2's code as subcode)."""
    try:
        call()
    except Fault as fault:
        assert fault.code and fault.code.split(":")[-1] == f"Client.{code}", f"expected {code}: {fault.code} {fault.message}"
        return fault
    raise AssertionError(f"expected a {code} fault, got an answer")


def items(value, *path):
    """The `item` list at `path` in a zeep result (None and missing sets are empty)."""
    for name in path:
        value = None if value is None else value[name]
    return [] if value is None else list(value["item"] or [])


def key_names(c):
    return sorted(k["keyName"] for k in items(c.DescribeKeyPairs(keySet={"item": []}), "keySet"))


def rule(protocol, port, cidr=None, group=None):
    return {
        "ipProtocol": protocol,
        "fromPort": port,
        "toPort": port,
        "groups": {"item": [{"userId": "", "groupName": group}] if group else []},
        "ipRanges": {"item": [{"cidrIp": cidr}] if cidr else []},
    }


def owner_id(c):
    """The caller's account's 12-digit id: the owner id of its default security group."""
    groups = items(c.DescribeSecurityGroups(securityGroupSet={"item": [{"groupName": "default"}]}), "securityGroupInfo")
    (owner,) = [g["ownerId"] for g in groups]
    assert len(owner) == 12 and owner.isdigit(), owner
    return owner


def check_api(wsdl, admin_zip, user_zip):
    admin, bob = User(wsdl, admin_zip), User(wsdl, user_zip)
    a, b = admin.ec2, bob.ec2

    served = requests.get(admin.url + "?wsdl", timeout=30)
    address = etree.fromstring(served.content).find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert served.status_code == 200 and address.get("location") == admin.url, served.text[:200]
    ok("GET EC2_URL?wsdl serves the WSDL with the address the client used")

    created = a.CreateKeyPair(keyName="soap-key")
    assert created["keyName"] == "soap-key" and created["keyMaterial"].startswith("-----BEGIN"), created
    assert len(created["keyFingerprint"].split(":")) == 20, created["keyFingerprint"]
    assert key_names(a) == ["soap-key"]
    listed = items(a.DescribeKeyPairs(keySet={"item": [{"keyName": "soap-key"}]}), "keySet")
    assert [k["keyFingerprint"] for k in listed] == [created["keyFingerprint"]], listed
    expect_fault(lambda: a.CreateKeyPair(keyName="soap-key"), "InvalidKeyPair.Duplicate")
    ok("CreateKeyPair and DescribeKeyPairs over SOAP, signed with the admin's certificate from the zip")

    # Query at the same URL (a form POST) sees what SOAP made: one set of operations.
    query = ec2(admin.env)
    assert [k["KeyName"] for k in query.describe_key_pairs()["KeyPairs"]] == ["soap-key"]
    ok("Query at the same URL, signed with the access key, sees the keypair SOAP created")

    assert key_names(b) == []
    expect_fault(lambda: b.DescribeKeyPairs(keySet={"item": [{"keyName": "soap-key"}]}), "InvalidKeyPair.NotFound")
    b.CreateKeyPair(keyName="bobs")
    assert key_names(b) == ["bobs"] and key_names(a) == ["soap-key"]
    assert b.DeleteKeyPair(keyName="soap-key")["return"] is True  # EC2: true whether or not it existed
    assert key_names(a) == ["soap-key"]
    ok("the second user's certificate acts as that user: the admin's keypairs are neither seen nor touched")

    assert a.CreateSecurityGroup(groupName="web", groupDescription="web servers")["return"] is True
    a.CreateSecurityGroup(groupName="db", groupDescription="databases")
    a.AuthorizeSecurityGroupIngress(userId="", groupName="web", ipPermissions={"item": [rule("tcp", 80, cidr="0.0.0.0/0")]})
    a.AuthorizeSecurityGroupIngress(userId="", groupName="db", ipPermissions={"item": [rule("tcp", 5432, group="web")]})
    groups = {
        g["groupName"]: g
        for g in items(a.DescribeSecurityGroups(securityGroupSet={"item": []}), "securityGroupInfo")
    }
    assert sorted(groups) == ["db", "default", "web"], sorted(groups)
    (web_rule,) = items(groups["web"], "ipPermissions")
    assert (web_rule["ipProtocol"], web_rule["fromPort"], web_rule["toPort"]) == ("tcp", 80, 80), web_rule
    assert [r["cidrIp"] for r in items(web_rule, "ipRanges")] == ["0.0.0.0/0"], web_rule
    (db_rule,) = items(groups["db"], "ipPermissions")
    assert [(p["userId"], p["groupName"]) for p in items(db_rule, "groups")] == [(owner_id(a), "web")], db_rule
    expect_fault(
        lambda: a.AuthorizeSecurityGroupIngress(userId="", groupName="web", ipPermissions={"item": [rule("tcp", 80, cidr="0.0.0.0/0")]}),
        "InvalidPermission.Duplicate",
    )
    expect_fault(lambda: a.DeleteSecurityGroup(groupName="web"), "InvalidGroup.InUse")
    a.RevokeSecurityGroupIngress(userId="", groupName="db", ipPermissions={"item": [rule("tcp", 5432, group="web")]})
    assert a.DeleteSecurityGroup(groupName="web")["return"] is True
    expect_fault(lambda: a.DeleteSecurityGroup(groupName="web"), "InvalidGroup.NotFound")
    bobs = [g["groupName"] for g in items(b.DescribeSecurityGroups(securityGroupSet={"item": []}), "securityGroupInfo")]
    assert bobs == ["default"], bobs
    expect_fault(lambda: b.DeleteSecurityGroup(groupName="db"), "InvalidGroup.NotFound")
    ok("security groups and their rules by CIDR and by group; EC2's codes as fault subcodes; the second user's are their own")

    # The other portType (ec2_additions.wsdl, beside ours) at the same endpoint.
    additions_wsdl = os.path.join(os.path.dirname(wsdl), "ec2_additions.wsdl")
    additions = Client(additions_wsdl, wsse=admin.signer()).create_service(f"{{{EC2}}}AmazonEC2AdditionsBinding", admin.url)
    asked = {"item": [{"attributeName": "supported-platforms"}]}
    attributes = items(additions.DescribeAccountAttributes(accountAttributeNameSet=asked), "accountAttributeSet")
    values = {a["attributeName"]: [v["attributeValue"] for v in items(a, "attributeValueSet")] for a in attributes}
    assert values == {"supported-platforms": ["EC2"]}, values
    ok("DescribeAccountAttributes (the additions' portType) at the same endpoint: supported-platforms EC2")

    regions = items(a.DescribeRegions(regionSet={"item": []}), "regionInfo")
    assert [(r["regionName"], r["regionEndpoint"]) for r in regions] == [(admin.env["AWS_DEFAULT_REGION"], admin.url)], regions
    zones = items(a.DescribeAvailabilityZones(availabilityZoneSet={"item": []}), "availabilityZoneInfo")
    assert zones == [], zones  # no cluster registered
    ok("DescribeRegions names this cloud at its EC2_URL; DescribeAvailabilityZones lists no zone without clusters")

    image = a.RegisterImage(imageLocation="images/machine.manifest.xml")["imageId"]
    assert image.startswith("emi-"), image
    described = items(
        a.DescribeImages(executableBySet={"item": []}, imagesSet={"item": [{"imageId": image}]}, ownersSet={"item": []}),
        "imagesSet",
    )
    assert [(i["imageId"], i["imageOwnerId"], i["imageState"], i["isPublic"]) for i in described] == [
        (image, owner_id(a), "available", True)
    ], described
    mine = items(b.DescribeImages(executableBySet={"item": []}, imagesSet={"item": []}, ownersSet={"item": [{"owner": "self"}]}), "imagesSet")
    assert mine == [], mine
    expect_fault(
        lambda: b.DescribeImages(executableBySet={"item": []}, imagesSet={"item": [{"imageId": "emi-00000000"}]}, ownersSet={"item": []}),
        "InvalidAMIID.NotFound",
    )
    ok("RegisterImage and DescribeImages (by id, by owner); an unknown image is InvalidAMIID.NotFound")


def post(url, envelope_bytes, action):
    response = requests.post(
        url, data=envelope_bytes, headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}, timeout=30
    )
    return response.status_code, etree.fromstring(response.content)


def fault_code(reply):
    code = reply.find(f".//{{{SOAP}}}Fault/faultcode")
    return None if code is None else code.text.split(":")[-1]


def describe_key_pairs(namespace=EC2):
    envelope = etree.Element(etree.QName(SOAP, "Envelope"), nsmap={"soapenv": SOAP})
    body = etree.SubElement(envelope, etree.QName(SOAP, "Body"))
    request = etree.SubElement(body, etree.QName(namespace, "DescribeKeyPairs"), nsmap={"ec2": namespace})
    etree.SubElement(request, etree.QName(namespace, "keySet"))
    return envelope


def signed(envelope, signature):
    envelope, _ = signature.apply(envelope, {})
    return etree.tostring(envelope)


def stranger(folder):
    """A fresh self-signed certificate and its key, as files in `folder`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # The cloud users' very name, so that only the signature tells it apart.
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Eucalyptus"), x509.NameAttribute(NameOID.COMMON_NAME, "admin")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = f"{folder}/stranger-pk.pem", f"{folder}/stranger-cert.pem"
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def check_security(wsdl, admin_zip):
    admin = User(wsdl, admin_zip)
    admin.ec2.CreateKeyPair(keyName="k")

    key_file, cert_file = stranger(admin.folder)
    outsider = Client(wsdl, wsse=UserSignature(key_file, cert_file)).create_service(BINDING, admin.url)
    fault = expect_fault(lambda: outsider.DescribeKeyPairs(keySet={"item": []}), "AuthFailure")
    assert "not trusted" in fault.message, fault.message
    ok("a fresh self-signed certificate (named like a user) is refused: Client.AuthFailure")

    status, reply = post(admin.url, etree.tostring(describe_key_pairs()), "DescribeKeyPairs")
    assert (status, fault_code(reply)) == (500, "Client.AuthFailure"), (status, etree.tostring(reply))
    ok("an unsigned request is refused: Client.AuthFailure")

    envelope = signed(describe_key_pairs(), admin.signer())
    tampered = envelope.replace(b"<ec2:keySet/>", b"<ec2:keySet><ec2:item><ec2:keyName>k</ec2:keyName></ec2:item></ec2:keySet>")
    assert tampered != envelope
    status, reply = post(admin.url, tampered, "DescribeKeyPairs")
    assert fault_code(reply) == "Client.SignatureDoesNotMatch", etree.tostring(reply)
    tree = etree.fromstring(signed(describe_key_pairs(), admin.signer()))
    value = tree.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureValue")
    value.text = value.text[:10] + ("A" if value.text[10] != "A" else "B") + value.text[11:]
    status, reply = post(admin.url, etree.tostring(tree), "DescribeKeyPairs")
    assert fault_code(reply) == "Client.SignatureDoesNotMatch", etree.tostring(reply)
    ok("a Body changed after signing, or a broken signature value, is Client.SignatureDoesNotMatch")

    old = signed(describe_key_pairs(), admin.signer(age=datetime.timedelta(hours=1)))
    status, reply = post(admin.url, old, "DescribeKeyPairs")
    assert fault_code(reply) == "Client.RequestExpired", etree.tostring(reply)
    ok("a Timestamp an hour old is Client.RequestExpired")

    fresh = signed(describe_key_pairs(), admin.signer())
    status, reply = post(admin.url, fresh, "DescribeKeyPairs")
    assert status == 200 and fault_code(reply) is None, etree.tostring(reply)
    status, reply = post(admin.url, fresh, "DescribeKeyPairs")
    assert fault_code(reply) == "Client.AuthFailure", etree.tostring(reply)
    assert "replay" in reply.findtext(f".//{{{SOAP}}}Fault/faultstring"), etree.tostring(reply)
    ok("the same signed message sent twice is refused the second time (replay)")

    status, reply = post(admin.url, signed(describe_key_pairs(OLDER), admin.signer()), "DescribeKeyPairs")
    assert status == 200, etree.tostring(reply)
    (response,) = reply.find(f"{{{SOAP}}}Body")
    assert response.tag == f"{{{OLDER}}}DescribeKeyPairsResponse", response.tag
    assert {etree.QName(e).namespace for e in response.iter(etree.Element)} == {OLDER}, etree.tostring(response)
    names = [e.text for e in response.iter(f"{{{OLDER}}}keyName")]
    assert names == ["k"], names
    ok("a request in 2008-12-01's namespace is answered in 2008-12-01's namespace")


def check_refused(wsdl, user_zip, why):
    user = User(wsdl, user_zip)
    fault = expect_fault(lambda: user.ec2.DescribeKeyPairs(keySet={"item": []}), "AuthFailure")
    assert why in fault.message, fault.message
    ok(f"a user's certificate is refused with Client.AuthFailure: {fault.message}")


def check_untimestamped(wsdl, admin_zip, verdict):
    admin = User(wsdl, admin_zip)
    status, reply = post(admin.url, signed(describe_key_pairs(), admin.signer(age=None)), "DescribeKeyPairs")
    if verdict == "accepted":
        assert status == 200 and fault_code(reply) is None, etree.tostring(reply)
    else:
        assert fault_code(reply) == "Client.AuthFailure", etree.tostring(reply)
        assert "Timestamp" in reply.findtext(f".//{{{SOAP}}}Fault/faultstring"), etree.tostring(reply)
    ok(f"a request signed without a Timestamp is {verdict}")


def instances_of(c, instance=None):
    ids = {"item": [{"instanceId": instance}] if instance else []}
    return [
        (r, i)
        for r in items(c.DescribeInstances(instancesSet=ids), "reservationSet")
        for i in items(r, "instancesSet")
    ]


def wait_for(c, instance, state, seconds=90):
    deadline = time.time() + seconds
    while True:
        (_, found), = instances_of(c, instance)
        if found["instanceState"]["name"] == state or time.time() > deadline:
            return found
        time.sleep(0.5)


def check_instances(wsdl, admin_zip, user_zip):
    admin, bob = User(wsdl, admin_zip), User(wsdl, user_zip)
    a, b = admin.ec2, bob.ec2
    emi, eki, eri = (a.RegisterImage(imageLocation=f"images/{k}.manifest.xml")["imageId"] for k in ("machine", "kernel", "ramdisk"))
    assert (emi[:4], eki[:4], eri[:4]) == ("emi-", "eki-", "eri-"), (emi, eki, eri)
    a.CreateKeyPair(keyName="k1")
    zones = items(a.DescribeAvailabilityZones(availabilityZoneSet={"item": []}), "availabilityZoneInfo")
    assert [z["zoneName"] for z in zones] == ["zone1"], zones
    ok("RegisterImage reads kernel, ramdisk and machine manifests; DescribeAvailabilityZones lists the cluster")

    run = a.RunInstances(
        imageId=emi, minCount=1, maxCount=1, keyName="k1", groupSet={"item": []}, instanceType="m1.small",
        kernelId=eki, ramdiskId=eri, userData={"data": "aGVsbG8=", "version": "1.0", "encoding": "base64"},
    )
    assert run["reservationId"].startswith("r-") and run["ownerId"] == owner_id(a), run
    (launched,) = items(run, "instancesSet")
    instance = launched["instanceId"]
    assert instance.startswith("i-") and launched["instanceState"]["name"] == "pending", launched
    assert (launched["keyName"], launched["amiLaunchIndex"], launched["kernelId"]) == ("k1", "0", eki), launched
    ok("RunInstances over SOAP: a reservation, an instance pending with its key, launch index and kernel")

    found = wait_for(a, instance, "running")
    assert (found["instanceState"]["code"], found["instanceState"]["name"]) == (16, "running"), found["instanceState"]
    assert found["placement"]["availabilityZone"] == "zone1", found
    ok("DescribeInstances over SOAP: running (16) in zone1")

    console = a.GetConsoleOutput(instanceId=instance)
    assert console["instanceId"] == instance, console
    assert a.RebootInstances(instancesSet={"item": [{"instanceId": instance}]})["return"] is True
    ok("GetConsoleOutput and RebootInstances over SOAP")

    assert instances_of(b) == []
    expect_fault(lambda: instances_of(b, instance), "InvalidInstanceID.NotFound")
    expect_fault(lambda: b.TerminateInstances(instancesSet={"item": [{"instanceId": instance}]}), "InvalidInstanceID.NotFound")
    expect_fault(lambda: b.GetConsoleOutput(instanceId=instance), "InvalidInstanceID.NotFound")
    assert wait_for(a, instance, "running", 0)["instanceState"]["name"] == "running"
    ok("the second user's certificate neither sees nor touches the admin's instance")

    ended = items(a.TerminateInstances(instancesSet={"item": [{"instanceId": instance}]}), "instancesSet")
    assert [(e["instanceId"], e["previousState"]["name"]) for e in ended] == [(instance, "running")], ended
    found = wait_for(a, instance, "terminated")
    assert (found["instanceState"]["code"], found["instanceState"]["name"]) == (48, "terminated"), found["instanceState"]
    ok("TerminateInstances over SOAP: terminated (48)")


def main():
    phase, wsdl = sys.argv[1], sys.argv[2]
    if phase == "api":
        check_api(wsdl, sys.argv[3], sys.argv[4])
    elif phase == "security":
        check_security(wsdl, sys.argv[3])
    elif phase == "refused":
        check_refused(wsdl, sys.argv[3], sys.argv[4])
    elif phase == "untimestamped":
        check_untimestamped(wsdl, sys.argv[3], sys.argv[4])
    elif phase == "instances":
        check_instances(wsdl, sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown phase {phase}")


if __name__ == "__main__":
    main()
