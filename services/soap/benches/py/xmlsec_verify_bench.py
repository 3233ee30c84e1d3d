"""Verifies WS-Security signed envelopes with python-xmlsec, as fast as it can.

Usage: xmlsec_verify_bench.py DIR SECONDS
DIR holds cert.pem (the signer's certificate) and msg-*.xml (signed envelopes). Each
envelope is parsed with lxml, its Id attributes registered, and its ds:Signature verified
(every Reference digest after exclusive C14N, then the RSA signature value), in passes over
all envelopes until SECONDS of CPU time have passed. Prints one JSON object; `per_second` is
envelopes per CPU second, so that other load on the machine does not skew it.
"""

import glob
import json
import os
import sys
import time

import xmlsec
from lxml import etree


def verify(data, key):
    root = etree.fromstring(data)
    xmlsec.tree.add_ids(root, ["Id"])
    signature = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    ctx.verify(signature)


def main():
    folder, seconds = sys.argv[1], float(sys.argv[2])
    key = xmlsec.Key.from_file(os.path.join(folder, "cert.pem"), xmlsec.constants.KeyDataFormatCertPem)
    messages = []
    for path in sorted(glob.glob(os.path.join(folder, "msg-*.xml"))):
        with open(path, "rb") as f:
            messages.append(f.read())
    if not messages:
        sys.exit(f"no msg-*.xml in {folder}")

    verified = 0
    started = time.process_time()
    while time.process_time() - started < seconds:
        for data in messages:
            verify(data, key)  # raises xmlsec.Error on any failure
            verified += 1
    elapsed = time.process_time() - started
    print(json.dumps({"verified": verified, "seconds": elapsed, "per_second": verified / elapsed}))


if __name__ == "__main__":
    main()
