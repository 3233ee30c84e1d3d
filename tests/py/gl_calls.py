"""Calls an EucalyptusGL service with zeep and the ORIGINAL Eucalyptus 1.6.1 GL WSDL.

zeep builds every request from the original WSDL (not ours), posts to ENDPOINT, signs with
SIGNER's key (BinarySignature: X.509 token, exc-c14n, RSA-SHA1, signed Body and Timestamp) and
checks each reply's signature against PEER's certificate. For each service tag it calls
GetKeys and GetLogs and decodes the base64 fields; then it calls GetKeys unsigned and signed by
each WRONG role, each of which must be refused with a fault.

Usage: gl_calls.py WSDL ENDPOINT KEYS_DIR SIGNER PEER --tags TAG... --wrong ROLE...
Prints one `path=value` line per fact, whitespace collapsed (`GetKeys.self.return=True`,
`GetLogs.self.NCLog=<decoded text>`, `refused.node=<fault message>`); the Rust test asserts on
them.
"""

import argparse
import base64
import os

from zeep import Client
from zeep.exceptions import Fault

from front_door import flatten
from zeep_signed_call import SignAndVerifyWith

BINDING = "{http://eucalyptus.ucsb.edu/}EucalyptusGLSoapBinding"
ENCODED = {"CCcert", "NCcert", "CCLog", "NCLog", "httpdLog", "axis2Log"}


def service(wsdl, endpoint, keys_dir, signer, peer):
    """A GL service proxy signing as `signer` (None: unsigned), trusting `peer`'s replies."""
    wsse = None
    if signer is not None:
        path = lambda name: os.path.join(keys_dir, name)  # noqa: E731
        wsse = SignAndVerifyWith(
            path(f"{signer}-pk.pem"), path(f"{signer}-cert.pem"), path(f"{peer}-cert.pem")
        )
    return Client(wsdl, wsse=wsse).create_service(BINDING, endpoint)


def fields(reply):
    """The reply's fields, base64 ones decoded; absent ones left out."""
    seen = {}
    for name in reply:
        value = reply[name]
        if value is None:
            continue
        seen[name] = base64.b64decode(value).decode() if name in ENCODED else value
    return seen


def main():
    parser = argparse.ArgumentParser()
    for name in ["wsdl", "endpoint", "keys_dir", "signer", "peer"]:
        parser.add_argument(name)
    parser.add_argument("--tags", nargs="+", required=True)
    parser.add_argument("--wrong", nargs="+", required=True)
    args = parser.parse_args()
    gl = service(args.wsdl, args.endpoint, args.keys_dir, args.signer, args.peer)

    seen = {}
    # Each call's Body differs (its correlationId), so none is refused as a replay.
    for n, tag in enumerate(args.tags):
        seen[f"GetKeys.{tag}"] = fields(
            gl.GetKeys(correlationId=f"gl-keys-{n}", userId="admin", serviceTag=tag)
        )
        seen[f"GetLogs.{tag}"] = fields(
            gl.GetLogs(correlationId=f"gl-logs-{n}", userId="admin", serviceTag=tag)
        )

    for role in [None, *args.wrong]:
        stranger = service(args.wsdl, args.endpoint, args.keys_dir, role, args.peer)
        try:
            reply = stranger.GetKeys(correlationId=f"gl-as-{role}", serviceTag="self")
            outcome = f"answered: {fields(reply)}"
        except Fault as fault:
            outcome = fault.message
        seen[f"refused.{role or 'unsigned'}"] = outcome

    for path, value in flatten(seen, ""):
        print(f"{path}={value}")


if __name__ == "__main__":
    main()
