"""Calls our storage controller with zeep and our storage_controller.wsdl, as the cloud.

zeep signs every request with the cloud's key (BinarySignature: X.509 token, exc-c14n,
RSA-SHA1, signed Body and Timestamp) and checks each reply's signature against the cloud's
certificate, as the CLC's calls to the SC are signed both ways.

It serves calls one per line on stdin, as JSON: {"op": "CreateStorageVolume", "args": {...}}.
For each call it prints the reply flattened into `path=value` lines (`SnapshotSet.0.Progress=40%`),
or `fault.code=CODE` and `fault=MESSAGE`, then a line `.`.

Usage: storage_zeep.py WSDL ENDPOINT KEYS_DIR
"""

import json
import os
import sys

from zeep import Client
from zeep.exceptions import Fault, Error as ZeepError
from zeep.helpers import serialize_object

from cluster_zeep import flatten
from zeep_signed_call import SignAndVerifyWith

BINDING = "{http://storagecontroller.eucalyptus.ucsb.edu}StorageControllerSoapBinding"


def main():
    wsdl, endpoint, keys_dir = sys.argv[1:4]
    path = lambda name: os.path.join(keys_dir, name)  # noqa: E731
    wsse = SignAndVerifyWith(path("cloud-pk.pem"), path("cloud-cert.pem"), path("cloud-cert.pem"))
    service = Client(wsdl, wsse=wsse).create_service(BINDING, endpoint)
    for line in sys.stdin:
        call = json.loads(line)
        out = []
        try:
            reply = getattr(service, call["op"])(**call.get("args", {}))
            value = serialize_object(reply, dict)
            # zeep answers a response whose one child repeats (DescribeStorageSnapshots'
            # SnapshotSet, the only one) with the bare list.
            flatten(value, "SnapshotSet" if isinstance(value, list) else "", out)
        except Fault as fault:
            out.append(f"fault.code={fault.code}")
            out.append(f"fault={fault.message}".replace("\n", " "))
        except ZeepError as error:
            out.append(f"fault={getattr(error, 'message', error)}".replace("\n", " "))
        print("\n".join(out + ["."]), flush=True)


if __name__ == "__main__":
    main()
