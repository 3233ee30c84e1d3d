"""Signs a SOAP envelope the WS-Security way with python-xmlsec, independently of our code.

Usage: xmlsec_sign.py KEY.pem CERT.pem IN.xml [--signature rsa-sha1|rsa-sha256]
       [--digest sha1|sha256] [--no-timestamp] [--inclusive-prefixes "p1 p2"]
Writes the signed envelope to stdout. The Security header gets a wsu:Timestamp (unless
--no-timestamp), the certificate as a BinarySecurityToken, and a ds:Signature (after the token,
ds as the default namespace) over Body and Timestamp, whose KeyInfo references the token.
"""

import argparse
import base64
import datetime
import sys

import xmlsec
from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

SIGNATURES = {"rsa-sha1": xmlsec.Transform.RSA_SHA1, "rsa-sha256": xmlsec.Transform.RSA_SHA256}
DIGESTS = {"sha1": xmlsec.Transform.SHA1, "sha256": xmlsec.Transform.SHA256}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("key")
    parser.add_argument("cert")
    parser.add_argument("envelope")
    parser.add_argument("--signature", default="rsa-sha1", choices=SIGNATURES)
    parser.add_argument("--digest", default="sha1", choices=DIGESTS)
    parser.add_argument("--no-timestamp", action="store_true")
    parser.add_argument("--inclusive-prefixes", default="")
    args = parser.parse_args()

    root = etree.parse(args.envelope).getroot()
    soap = etree.QName(root).namespace
    assert soap in (SOAP11, SOAP12), soap
    header = root.find("{%s}Header" % soap)
    if header is None:
        header = etree.Element("{%s}Header" % soap)
        root.insert(0, header)
    body = root.find("{%s}Body" % soap)

    security = etree.SubElement(header, "{%s}Security" % WSSE, nsmap={"wsse": WSSE, "wsu": WSU})
    signed = [body]
    body.set("{%s}Id" % WSU, "py-body")
    if not args.no_timestamp:
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        timestamp = etree.SubElement(security, "{%s}Timestamp" % WSU, {"{%s}Id" % WSU: "py-ts"})
        for name, at in (("Created", now), ("Expires", now + datetime.timedelta(seconds=300))):
            etree.SubElement(timestamp, "{%s}%s" % (WSU, name)).text = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        signed.insert(0, timestamp)

    with open(args.cert, "rb") as f:
        pem = f.read().decode()
    der = base64.b64decode("".join(line for line in pem.splitlines() if not line.startswith("-----")))
    token = etree.SubElement(
        security,
        "{%s}BinarySecurityToken" % WSSE,
        {"ValueType": X509V3, "EncodingType": BASE64, "{%s}Id" % WSU: "py-token"},
    )
    token.text = base64.b64encode(der).decode()

    signature = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N, SIGNATURES[args.signature])
    security.append(signature)
    for element in signed:
        ref = xmlsec.template.add_reference(
            signature, DIGESTS[args.digest], uri="#" + element.get("{%s}Id" % WSU)
        )
        transform = xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
        if args.inclusive_prefixes:
            xmlsec.template.transform_add_c14n_inclusive_namespaces(transform, args.inclusive_prefixes.split())
    key_info = xmlsec.template.ensure_key_info(signature)
    token_ref = etree.SubElement(key_info, "{%s}SecurityTokenReference" % WSSE)
    etree.SubElement(token_ref, "{%s}Reference" % WSSE, {"URI": "#py-token", "ValueType": X509V3})

    xmlsec.tree.add_ids(root, ["Id"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_file(args.key, xmlsec.constants.KeyDataFormatPem)
    ctx.sign(signature)
    sys.stdout.buffer.write(etree.tostring(root))


if __name__ == "__main__":
    main()
