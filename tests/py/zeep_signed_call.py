"""Calls ncDescribeResource on our NC endpoint with zeep, as an independent SOAP stack would.

zeep reads the service's WSDL from `?wsdl` (so it posts to the address the server put in
soap:address), signs the request with xmlsec (BinarySignature: X.509 token, exc-c14n,
RSA-SHA1, signed Body and wsu:Timestamp) and verifies the signature of the reply with the server's certificate.
A second call verifies the reply with the wrong certificate and must be refused, which shows
that zeep really checked the first reply; a third, unsigned, must be refused by our server.

Usage: zeep_signed_call.py WSDL_URL CLIENT_KEY CLIENT_CERT SERVER_CERT
Prints one JSON object: the reply's fields, whether the wrong certificate was refused and
whether the unsigned call was.
"""

import datetime
import json
import sys

from zeep import Client
from zeep.exceptions import Fault, SignatureVerificationFailed
from zeep.wsse import signature
from zeep.wsse.signature import BinarySignature
from zeep.wsse.utils import WSU, get_security_header, get_timestamp


def add_timestamp(envelope, ttl=300):
    """Adds a wsu:Timestamp (Created now, Expires ttl seconds later) to the Security header."""
    now = datetime.datetime.now(datetime.timezone.utc)
    expires = now + datetime.timedelta(seconds=ttl)
    get_security_header(envelope).append(
        WSU.Timestamp(
            WSU.Created(get_timestamp(now, zulu_timestamp=True)),
            WSU.Expires(get_timestamp(expires, zulu_timestamp=True)),
        )
    )


class SignAndVerifyWith(BinarySignature):
    """Signs with our key, with a signed Timestamp; verifies replies with the peer's certificate.

    zeep's own BinarySignature verifies replies with the certificate it signs with, which
    fits only a peer sharing our key. It signs the Body and a Timestamp already present, so a
    Timestamp is added first: our servers demand one by default. The signing is zeep's.
    """

    def __init__(self, key_file, cert_file, peer_cert_file):
        super().__init__(key_file, cert_file)
        with open(peer_cert_file, "rb") as f:
            self.peer_cert_data = f.read()

    def apply(self, envelope, headers):
        add_timestamp(envelope)
        return super().apply(envelope, headers)

    def verify(self, envelope):
        key = signature._make_verify_key(self.peer_cert_data)
        signature._verify_envelope_with_key(envelope, key)
        return envelope


def describe_resource(wsdl, wsse, call):
    # Each call differs in its Body, so that no two signatures are alike: a server that
    # refuses replays would rightly refuse a second identical signed message.
    client = Client(wsdl, wsse=wsse)
    return client.service.ncDescribeResource(
        correlationId=f"corr-zeep-{call}", userId="eucalyptus", resourceType="memory"
    )


def main():
    wsdl, client_key, client_cert, server_cert = sys.argv[1:5]
    reply = describe_resource(wsdl, SignAndVerifyWith(client_key, client_cert, server_cert), 1)
    fields = {name: reply[name] for name in reply}

    # A reply checked against the client's own certificate must fail.
    try:
        describe_resource(wsdl, SignAndVerifyWith(client_key, client_cert, client_cert), 2)
        wrong_cert_refused = False
    except SignatureVerificationFailed:
        wrong_cert_refused = True

    # An unsigned request must be refused with a fault.
    try:
        describe_resource(wsdl, None, 3)
        unsigned_refused = False
    except Fault as fault:
        unsigned_refused = "not signed" in fault.message

    print(
        json.dumps(
            {
                "reply": fields,
                "wrong_cert_refused": wrong_cert_refused,
                "unsigned_refused": unsigned_refused,
            }
        )
    )


if __name__ == "__main__":
    main()
