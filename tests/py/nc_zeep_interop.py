"""Drives our node controller with zeep and the ORIGINAL Eucalyptus 1.6.1 NC WSDL.

zeep builds every request from the original WSDL (not ours), signs it with the cluster's key
(BinarySignature: X.509 token, exc-c14n, RSA-SHA1, signed Body and Timestamp) and checks each reply's
signature against the node's certificate. It launches one instance, waits for it to run,
terminates it and checks it is reported in Teardown.

Usage: nc_zeep_interop.py WSDL ENDPOINT CLUSTER_KEY CLUSTER_CERT NODE_CERT IMAGE_BASE_URL INSTANCE_ID
Prints one JSON object with what the node answered.
"""

import json
import sys
import time

from zeep import Client

from zeep_signed_call import SignAndVerifyWith

BINDING = "{http://eucalyptus.ucsb.edu/}EucalyptusNCSoapBinding"


def state_of(service, instance_id):
    reply = service.ncDescribeInstances(
        correlationId="zeep-describe", userId="eucalyptus", instanceIds=[instance_id]
    )
    for instance in reply["instances"] or []:
        if instance["instanceId"] == instance_id:
            return instance
    return None


def wait_for(service, instance_id, state, limit=30.0):
    deadline = time.monotonic() + limit
    while True:
        instance = state_of(service, instance_id)
        if instance is not None and instance["stateName"] == state:
            return instance
        if time.monotonic() > deadline:
            raise SystemExit(f"{instance_id} not {state} after {limit}s: {instance}")
        time.sleep(0.2)


def main():
    wsdl, endpoint, key, cert, node_cert, base, instance_id = sys.argv[1:8]
    client = Client(wsdl, wsse=SignAndVerifyWith(key, cert, node_cert))
    service = client.create_service(BINDING, endpoint)

    run = service.ncRunInstance(
        correlationId="zeep-run",
        userId="eucalyptus",
        imageId="emi-0000000z",
        kernelId="eki-0000000z",
        ramdiskId="eri-0000000z",
        imageURL=f"{base}/image",
        kernelURL=f"{base}/kernel",
        ramdiskURL=f"{base}/ramdisk",
        instanceId=instance_id,
        instanceType={"memory": 128, "cores": 1, "disk": 1},
        keyName="ssh-rsa AAAAzeep zeep@interop",
        publicMacAddress="d0:0d:00:00:00:7a",
        privateMacAddress="d0:0d:00:00:00:7a",
        reservationId="r-0000000z",
        vlan=12,
        userData="",
        launchIndex="0",
        groupNames=["default", "web"],
    )
    running = wait_for(service, instance_id, "Extant")
    terminated = service.ncTerminateInstance(
        correlationId="zeep-terminate", userId="eucalyptus", instanceId=instance_id
    )
    after = wait_for(service, instance_id, "Teardown")

    print(
        json.dumps(
            {
                "run": {
                    "return": run["return"],
                    "correlationId": run["correlationId"],
                    "stateName": run["instance"]["stateName"],
                    "instanceId": run["instance"]["instanceId"],
                },
                "running": {
                    "stateName": running["stateName"],
                    "memory": running["instanceType"]["memory"],
                    "vlan": running["netParams"]["vlan"],
                    "groupNames": list(running["groupNames"]),
                    "keyName": running["keyName"],
                    "launchTime": running["launchTime"].isoformat(),
                },
                "terminate": {
                    "instanceId": terminated["instanceId"],
                    "shutdownState": terminated["shutdownState"],
                    "previousState": terminated["previousState"],
                },
                "after": after["stateName"],
            }
        )
    )


if __name__ == "__main__":
    main()
