"""Drives the services of one front door as independent clients would.

zeep loads each SOAP service's WSDL from its own `?wsdl`, signs its requests with xmlsec
(BinarySignature) and verifies each reply with that service's certificate; `requests` calls
the plain REST handler and an unknown path.

Usage: front_door.py BASE_URL KEYS_DIR
Prints what each client saw, one `path=value` line per fact (`nc_call.reply.nodeStatus=enabled`);
the Rust test asserts on them.
"""

import os
import sys

import requests
from zeep import Client
from zeep.exceptions import Fault

from zeep_signed_call import SignAndVerifyWith

NC_PATH = "/axis2/services/EucalyptusNC"
GL_PATH = "/axis2/services/EucalyptusGL"


def keys(keys_dir, signer, peer):
    """Signs as `signer` (cluster, cloud); verifies replies with `peer`'s certificate."""
    path = lambda name: os.path.join(keys_dir, name)  # noqa: E731
    return SignAndVerifyWith(
        path(f"{signer}-pk.pem"), path(f"{signer}-cert.pem"), path(f"{peer}-cert.pem")
    )


def outcome(call):
    """The reply's fields, or the fault's message."""
    try:
        reply = call()
    except Fault as fault:
        return {"fault": fault.message, "code": fault.code}
    return {"reply": {name: reply[name] for name in reply}}


def service_of(client):
    """The WSDL's one service and the address zeep will post to."""
    [(name, service)] = client.wsdl.services.items()
    [port] = service.ports.values()
    return {"name": name, "address": port.binding_options["address"]}


def main():
    base, keys_dir = sys.argv[1:3]
    seen = {}

    # The node controller trusts the cluster; its replies are signed by the node.
    nc_wsdl = f"{base}{NC_PATH}?wsdl"
    nc = Client(nc_wsdl, wsse=keys(keys_dir, "cluster", "node"))
    seen["nc_wsdl"] = service_of(nc)
    seen["nc_call"] = outcome(
        lambda: nc.service.ncDescribeResource(correlationId="fd-1", userId="eucalyptus")
    )
    seen["nc_fault"] = outcome(
        lambda: nc.service.ncRebootInstance(correlationId="fd-2", instanceId="i-1")
    )
    as_cloud = Client(nc_wsdl, wsse=keys(keys_dir, "cloud", "node"))
    seen["nc_as_cloud"] = outcome(
        lambda: as_cloud.service.ncDescribeResource(correlationId="fd-3", userId="x")
    )
    unsigned = Client(nc_wsdl)
    seen["nc_unsigned"] = outcome(
        lambda: unsigned.service.ncDescribeResource(correlationId="fd-4", userId="x")
    )

    # The GL service trusts the cloud; its replies are signed by the cluster.
    gl_wsdl = f"{base}{GL_PATH}?wsdl"
    gl = Client(gl_wsdl, wsse=keys(keys_dir, "cloud", "cluster"))
    seen["gl_wsdl"] = service_of(gl)
    seen["gl_call"] = outcome(lambda: gl.service.GetKeys(correlationId="fd-5", serviceTag="cc-1"))
    seen["gl_fault"] = outcome(lambda: gl.service.GetLogs(correlationId="fd-6", serviceTag="cc-1"))
    as_cluster = Client(gl_wsdl, wsse=keys(keys_dir, "cluster", "cluster"))
    seen["gl_as_cluster"] = outcome(
        lambda: as_cluster.service.GetKeys(correlationId="fd-7", serviceTag="cc-1")
    )

    # The REST handler, and what nothing serves.
    for name, method, path in [
        ("rest_get", "GET", "/rest/buckets/b1"),
        ("rest_post", "POST", "/rest"),
        ("unknown", "GET", "/nowhere"),
        ("under_soap", "GET", f"{NC_PATH}/more"),
        ("soap_without_wsdl", "GET", NC_PATH),
        # A POST that is no SOAP message: to the handler beside the endpoint (as Query beside
        # the CLC's SOAP), else to the endpoint all the same.
        ("form_beside_soap", "POST", GL_PATH),
        ("form_at_soap", "POST", NC_PATH),
    ]:
        response = requests.request(method, f"{base}{path}", data=b"x" if method == "POST" else None)
        seen[name] = {"status": response.status_code, "body": response.text}

    for path, value in flatten(seen, ""):
        print(f"{path}={value}")


def flatten(value, path):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from flatten(inner, f"{path}.{key}" if path else key)
    else:
        yield path, " ".join(str(value).split())


if __name__ == "__main__":
    main()
