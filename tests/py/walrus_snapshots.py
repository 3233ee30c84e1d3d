"""The original storage controller's side of Walrus's snapshot operations, written
independently of ours with requests and cryptography: an HTTP request carrying
`EucaOperation`, `Date` and `EucaSignature` (base64 of RSA-SHA1 over
"VERB\\nDATE\\nPATH\\n" with the given key). Prints one JSON line: the status, the S3 error
code (if any) and, for a GET written to --out, the SHA-256 of what arrived."""

import argparse
import base64
import email.utils
import hashlib
import json
import os
import re
import urllib.parse

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

METHODS = {"StoreSnapshot": "PUT", "GetWalrusSnapshot": "GET", "DeleteWalrusSnapshot": "DELETE"}


def file_chunks(path):
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                return
            yield chunk


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True, help="Walrus's service URL")
    p.add_argument("--key", required=True, help="PEM private key to sign with")
    p.add_argument("--op", required=True, choices=sorted(METHODS))
    p.add_argument("--bucket", required=True)
    p.add_argument("--id", required=True)
    p.add_argument("--file", help="StoreSnapshot: the bytes, sent chunked as the original")
    p.add_argument("--size", help="EucaSnapSize to send (default: the file's size)")
    p.add_argument("--no-size", action="store_true", help="send no EucaSnapSize")
    p.add_argument("--out", help="GetWalrusSnapshot: where to write the bytes")
    p.add_argument("--unsigned", action="store_true")
    a = p.parse_args()

    method = METHODS[a.op]
    url = f"{a.url.rstrip('/')}/{urllib.parse.quote(a.bucket)}/{urllib.parse.quote(a.id)}"
    path = urllib.parse.urlsplit(url).path
    date = email.utils.formatdate(usegmt=True)
    headers = {"Date": date, "EucaOperation": a.op, "Authorization": "Euca"}
    if not a.unsigned:
        with open(a.key, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        signed = f"{method}\n{date}\n{path}\n".encode()
        signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA1())
        headers["EucaSignature"] = base64.b64encode(signature).decode()
    data = None
    if a.file:
        size = a.size if a.size is not None else str(os.path.getsize(a.file))
        if not a.no_size:
            headers["EucaSnapSize"] = size
        data = file_chunks(a.file)  # a generator: requests sends it chunked
    r = requests.request(method, url, headers=headers, data=data, stream=True, timeout=60)
    result = {"status": r.status_code}
    if r.ok and a.out:
        digest = hashlib.sha256()
        with open(a.out, "wb") as f:
            for chunk in r.iter_content(1 << 16):
                digest.update(chunk)
                f.write(chunk)
        result["sha256"] = digest.hexdigest()
    elif not r.ok:
        m = re.search(r"<Code>([^<]*)</Code>", r.text)
        result["code"] = m.group(1) if m else None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
