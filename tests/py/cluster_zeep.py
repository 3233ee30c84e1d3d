"""Calls our cluster controller with zeep and the ORIGINAL Eucalyptus 1.6.1 CC WSDL, as the cloud.

zeep builds every request from the original WSDL (not ours), signs it with the cloud's key
(BinarySignature: X.509 token, exc-c14n, RSA-SHA1, signed Body and Timestamp) and checks each
reply's signature against the cluster's certificate.

It serves calls one per line on stdin, as JSON: {"op": "DescribeResources", "signer": "cloud",
"args": {...}}. signer is "cloud" (the default), "node" (a key the cluster does not trust for
requests) or "none" (unsigned). Each call gets a fresh correlationId unless it names one, so that
no two signed messages are alike. For each call it prints the reply flattened into
`path=value` lines (`instances.0.serviceTag=http://...`), or `fault=MESSAGE`, then a line `.`.

Usage: cluster_zeep.py WSDL ENDPOINT KEYS_DIR [BINDING]

BINDING (default EucalyptusCCSoapBinding) names another of the cluster's services, such as
EucalyptusCCSensorsSoapBinding with wsdl/eucalyptus_cc_sensors.wsdl.
"""

import itertools
import os
import sys
import json

from zeep import Client
from zeep.exceptions import Error as ZeepError
from zeep.helpers import serialize_object

from zeep_signed_call import SignAndVerifyWith

NAMESPACE = "{http://eucalyptus.ucsb.edu/}"


def flatten(value, path, out):
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            flatten(item, f"{path}.{index}", out)
    elif value is not None:
        text = str(value).replace("\n", "\\n")
        out.append(f"{path}={text}")


def main():
    wsdl, endpoint, keys_dir = sys.argv[1:4]
    binding = NAMESPACE + (sys.argv[4] if len(sys.argv) > 4 else "EucalyptusCCSoapBinding")
    path = lambda name: os.path.join(keys_dir, name)  # noqa: E731
    trusted = path("cluster-cert.pem")
    services = {}
    for signer in ["cloud", "node", "none"]:
        wsse = None
        if signer != "none":
            wsse = SignAndVerifyWith(path(f"{signer}-pk.pem"), path(f"{signer}-cert.pem"), trusted)
        services[signer] = Client(wsdl, wsse=wsse).create_service(binding, endpoint)
    counter = itertools.count(1)
    for line in sys.stdin:
        call = json.loads(line)
        args = call.get("args", {})
        args.setdefault("correlationId", f"zeep-{os.getpid()}-{next(counter)}")
        out = []
        try:
            reply = getattr(services[call.get("signer", "cloud")], call["op"])(**args)
            flatten(serialize_object(reply, dict), "", out)
        except ZeepError as error:
            out.append(f"fault={getattr(error, 'message', error)}".replace("\n", " "))
        print("\n".join(out + ["."]), flush=True)


if __name__ == "__main__":
    main()
