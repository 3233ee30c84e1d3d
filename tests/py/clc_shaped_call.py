"""Sends our cluster controller DescribeResources shaped as the original CLC sent it (CONTRACT.md):
no Timestamp, and a signature by the cloud's key over wsa:To, wsa:MessageID and wsa:Action only,
not the Body. Then the same with the Body signed too, and no Timestamp.

Usage: clc_shaped_call.py ENDPOINT CLOUD_KEY CLOUD_CERT
Prints one line per request (`headers_only`, `body_too`): its name, the HTTP status and the
fault string (empty when none), separated by tabs.
"""

import sys
import uuid

from lxml import etree

from nc_timestamp_policy import NC, SOAP, WSA, post, report, sign

ACTION = "EucalyptusCC#DescribeResources"


def request(endpoint):
    envelope = etree.Element(
        etree.QName(SOAP, "Envelope"), nsmap={"soapenv": SOAP, "wsa": WSA, "cc": NC}
    )
    header = etree.SubElement(envelope, etree.QName(SOAP, "Header"))
    for name, value in (
        ("To", endpoint),
        ("MessageID", f"urn:uuid:{uuid.uuid4()}"),
        ("Action", ACTION),
    ):
        etree.SubElement(header, etree.QName(WSA, name)).text = value
    body = etree.SubElement(envelope, etree.QName(SOAP, "Body"))
    operation = etree.SubElement(body, etree.QName(NC, "DescribeResources"))
    etree.SubElement(operation, etree.QName(NC, "correlationId")).text = "corr-clc"
    etree.SubElement(operation, etree.QName(NC, "userId")).text = "eucalyptus"
    vm = etree.SubElement(operation, etree.QName(NC, "instanceTypes"))
    for name, value in (("name", "m1.small"), ("memory", "128"), ("cores", "1"), ("disk", "2")):
        etree.SubElement(vm, etree.QName(NC, name)).text = value
    return envelope


def main():
    endpoint, key_file, cert_file = sys.argv[1:4]
    for name, body in (("headers_only", False), ("body_too", True)):
        signed = sign(request(endpoint), key_file, cert_file, None, body=body)
        report(name, post(endpoint, signed, ACTION))


if __name__ == "__main__":
    main()
