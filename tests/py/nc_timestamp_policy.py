"""Sends our node controller requests shaped as the original components and others send them,
each correctly signed by python-xmlsec with the cluster's key, and reports what it answered.

Every request is ncDescribeResource with wsa:To, wsa:MessageID and wsa:Action headers, signed
over the Body and those headers (the original CC's shape), with:
  timestamp_signed    a wsu:Timestamp the signature covers (our own shape);
  no_timestamp        no Timestamp (the original components' shape);
  no_timestamp_again  the very bytes of no_timestamp, sent again;
  same_message_id     a new Body, signed anew, carrying no_timestamp's MessageID;
  timestamp_unsigned  a Timestamp the signature does not cover.

Usage: nc_timestamp_policy.py ENDPOINT CLUSTER_KEY CLUSTER_CERT [SAVE_DIR]
       nc_timestamp_policy.py --resend ENDPOINT FILE...
Prints one line per request: its name, the HTTP status and the fault string (empty when
none), separated by tabs. With SAVE_DIR, the bytes of timestamp_signed and no_timestamp are
kept there as NAME.xml; --resend posts such files again, each named by its file.
"""

import base64
import pathlib
import sys
import uuid

import requests
import xmlsec
from lxml import etree
from zeep import ns
from zeep.wsse.utils import ensure_id, get_security_header

from zeep_signed_call import add_timestamp

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
NC = "http://eucalyptus.ucsb.edu/"
ACTION = "EucalyptusNC#ncDescribeResource"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = (
    "http://docs.oasis-open.org/wss/2004/01/"
    "oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)


def request(endpoint, message_id, correlation_id):
    envelope = etree.Element(
        etree.QName(SOAP, "Envelope"), nsmap={"soapenv": SOAP, "wsa": WSA, "nc": NC}
    )
    header = etree.SubElement(envelope, etree.QName(SOAP, "Header"))
    for name, value in (("To", endpoint), ("MessageID", message_id), ("Action", ACTION)):
        etree.SubElement(header, etree.QName(WSA, name)).text = value
    body = etree.SubElement(envelope, etree.QName(SOAP, "Body"))
    operation = etree.SubElement(body, etree.QName(NC, "ncDescribeResource"))
    for name, value in (
        ("correlationId", correlation_id),
        ("userId", "eucalyptus"),
        ("resourceType", "memory"),
    ):
        etree.SubElement(operation, etree.QName(NC, name)).text = value
    return envelope


def sign(envelope, key_file, cert_file, timestamp, body=True):
    """Signs the WS-Addressing headers, the Body unless `body` is false (the original CLC's
    shape), and the Timestamp when `timestamp` is "signed"; "unsigned" adds one the signature
    leaves out; None adds none."""
    security = get_security_header(envelope)
    if timestamp:
        add_timestamp(envelope)
    parts = [envelope.find(etree.QName(SOAP, "Body"))] if body else []
    parts += list(envelope.find(etree.QName(SOAP, "Header")).iterchildren(f"{{{WSA}}}*"))
    if timestamp == "signed":
        parts.append(security.find(etree.QName(ns.WSU, "Timestamp")))

    signature = xmlsec.template.create(
        envelope, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA1
    )
    security.insert(0, signature)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_file(key_file, xmlsec.KeyFormat.PEM)
    for part in parts:
        reference = xmlsec.template.add_reference(
            signature, xmlsec.Transform.SHA1, uri="#" + ensure_id(part)
        )
        xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
        context.register_id(part, "Id", ns.WSU)
    key_info = xmlsec.template.ensure_key_info(signature)
    context.sign(signature)

    # The certificate as a BinarySecurityToken, referenced from KeyInfo (not signed).
    with open(cert_file, "rb") as f:
        pem = f.read().decode()
    der = base64.b64decode("".join(l for l in pem.splitlines() if not l.startswith("-----")))
    token = etree.Element(
        etree.QName(ns.WSSE, "BinarySecurityToken"), ValueType=X509V3, EncodingType=BASE64
    )
    token.text = base64.b64encode(der).decode()
    security.insert(1, token)
    etree.SubElement(
        etree.SubElement(key_info, etree.QName(ns.WSSE, "SecurityTokenReference")),
        etree.QName(ns.WSSE, "Reference"),
        URI="#" + ensure_id(token),
        ValueType=X509V3,
    )
    return etree.tostring(envelope)


def post(endpoint, data, action=ACTION):
    response = requests.post(
        endpoint,
        data=data,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'},
        timeout=30,
    )
    reply = etree.fromstring(response.content)
    fault = reply.find(f".//{{{SOAP}}}Fault/faultstring")
    return response.status_code, "" if fault is None else fault.text


def report(name, answer):
    status, fault = answer
    print(f"{name}\t{status}\t{fault}")


def resend(endpoint, files):
    for file in map(pathlib.Path, files):
        report(file.stem, post(endpoint, file.read_bytes()))


def main():
    if sys.argv[1] == "--resend":
        resend(sys.argv[2], sys.argv[3:])
        return
    endpoint, key_file, cert_file = sys.argv[1:4]
    save = pathlib.Path(sys.argv[4]) if len(sys.argv) > 4 else None

    def signed(message_id, correlation_id, timestamp):
        envelope = request(endpoint, message_id, correlation_id)
        return sign(envelope, key_file, cert_file, timestamp)

    def fresh_id():
        return f"urn:uuid:{uuid.uuid4()}"

    original_id = fresh_id()
    original = signed(original_id, "corr-no-timestamp", None)
    timestamped = signed(fresh_id(), "corr-signed", "signed")
    if save:
        (save / "timestamp_signed.xml").write_bytes(timestamped)
        (save / "no_timestamp.xml").write_bytes(original)
    results = {
        "timestamp_signed": post(endpoint, timestamped),
        "no_timestamp": post(endpoint, original),
        "no_timestamp_again": post(endpoint, original),
        "same_message_id": post(endpoint, signed(original_id, "corr-same-id", None)),
        "timestamp_unsigned": post(endpoint, signed(fresh_id(), "corr-unsigned", "unsigned")),
    }
    for name, answer in results.items():
        report(name, answer)


if __name__ == "__main__":
    main()
