"""Builds, with zeep, the request envelope of every NC and CC operation.

Usage: zeep_bodies.py OUT_DIR NC_WSDL CC_WSDL

For each operation, zeep loads the given WSDL and builds the request with
`client.create_message(client.service, operation, **args)`; nothing is sent. Two files are
written per operation:
  <service>.<operation>.envelope.xml  the envelope exactly as zeep would post it
  <service>.<operation>.args.xml      the arguments zeep was given, as a plain XML tree
                                      (one element per field, repeated for lists, XSD
                                      lexical forms for values), for the Rust test to
                                      compare the typed request against.
"""

import sys
from pathlib import Path

from lxml import etree
from zeep import Client
from zeep.wsdl.utils import etree_to_string

INSTANCE_TYPE_NC = {"memory": 256, "cores": 1, "disk": 5}
IMAGE = {
    "imageId": "emi-3B5A1521",
    "kernelId": "eki-AF7A1741",
    "ramdiskId": "eri-B3EF1782",
    "imageURL": "http://192.168.7.10:8773/services/Walrus/ubuntu/ubuntu.9-04.img.manifest.xml",
    "kernelURL": "http://192.168.7.10:8773/services/Walrus/kernels/vmlinuz-2.6.28.manifest.xml",
    "ramdiskURL": "http://192.168.7.10:8773/services/Walrus/ramdisks/initrd-2.6.28.manifest.xml",
}

# Realistic arguments for every operation, covering nested types, repeated fields, omitted
# optional fields and the base message fields (correlationId, userId, return, statusMessage).
NC_CASES = {
    "ncRunInstance": {
        "correlationId": "3f1c9a52-6f0e-4d0b-9d8b-1f2e3d4c5b6a",
        "userId": "admin",
        **IMAGE,
        "instanceId": "i-4E1A0850",
        "instanceType": INSTANCE_TYPE_NC,
        "keyName": "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEAq9dvXLSX admin@eucalyptus",
        "publicMacAddress": "d0:0d:4E:1A:08:50",
        "privateMacAddress": "d0:0d:4E:1A:08:51",
        "reservationId": "r-48A5086B",
        "vlan": 10,
        "userData": "IyEvYmluL3NoCmVjaG8gaGVsbG8K",
        "launchIndex": "0",
        "groupNames": ["default", "web"],
    },
    "ncTerminateInstance": {"userId": "admin", "instanceId": "i-4E1A0850"},
    "ncRebootInstance": {"userId": "admin", "instanceId": "i-4E1A0850"},
    "ncDescribeInstances": {"userId": "eucalyptus", "instanceIds": ["i-4E1A0850", "i-3F2D07C1"]},
    "ncDescribeResource": {"correlationId": "corr-1", "userId": "eucalyptus", "resourceType": "vm"},
    "ncGetConsoleOutput": {"userId": "admin", "instanceId": "i-4E1A0850"},
    "ncAttachVolume": {
        "userId": "admin",
        "volumeId": "vol-5A2E0617",
        "instanceId": "i-4E1A0850",
        "remoteDev": "/dev/etherd/e0.1",
        "localDev": "/dev/sdb",
    },
    "ncDetachVolume": {
        "userId": "admin",
        "instanceId": "i-4E1A0850",
        "volumeId": "vol-5A2E0617",
        "remoteDev": "/dev/etherd/e0.1",
        "localDev": "/dev/sdb",
        "force": True,
    },
    "ncStartNetwork": {
        "userId": "eucalyptus",
        "remoteHosts": ["192.168.7.2", "192.168.8.2"],
        "remoteHostPort": 8774,
        "vlan": 11,
    },
    "ncPowerDown": {
        "correlationId": "c0ffee00-0000-4000-8000-000000000001",
        "userId": "eucalyptus",
        "return": True,
        "statusMessage": 7,
    },
}

CC_CASES = {
    "RunInstances": {
        "correlationId": "7c6e5f9a-51b6-4c33-9d36-0d1d7f0f2a14",
        "userId": "admin",
        **IMAGE,
        "instanceType": {"name": "c1.medium", "memory": 256, "cores": 1, "disk": 5},
        "keyName": "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEAq9dvXLSX admin@eucalyptus",
        "maxCount": 2,
        "minCount": 1,
        "reservationId": "r-48A5086B",
        "instanceIds": ["i-4E1A0850", "i-3F2D07C1"],
        "netNames": ["admin-default"],
        "macAddresses": ["d0:0d:4E:1A:08:50", "d0:0d:3F:2D:07:C1"],
        "networkIndexList": [2, 3],
        "vlan": 10,
        "userData": "IyEvYmluL3NoCmVjaG8gaGVsbG8K",
        "launchIndex": "0",
    },
    "DescribeInstances": {"userId": "admin", "instanceIds": ["i-4E1A0850", "i-3F2D07C1"]},
    "DescribeResources": {
        "userId": "eucalyptus",
        "instanceTypes": [
            {"name": "m1.small", "memory": 128, "cores": 1, "disk": 2},
            {"name": "c1.medium", "memory": 256, "cores": 1, "disk": 5},
            {"name": "c1.xlarge", "memory": 2048, "cores": 4, "disk": 20},
        ],
    },
    "TerminateInstances": {"userId": "admin", "instanceIds": ["i-4E1A0850", "i-3F2D07C1"]},
    "RebootInstances": {"userId": "admin", "instanceIds": ["i-4E1A0850"]},
    "GetConsoleOutput": {"userId": "admin", "instanceId": "i-4E1A0850"},
    "AttachVolume": {
        "userId": "admin",
        "volumeId": "vol-5A2E0617",
        "instanceId": "i-4E1A0850",
        "remoteDev": "/dev/etherd/e0.1",
        "localDev": "/dev/sdb",
    },
    "DetachVolume": {
        "userId": "admin",
        "instanceId": "i-4E1A0850",
        "volumeId": "vol-5A2E0617",
        "remoteDev": "/dev/etherd/e0.1",
        "localDev": "/dev/sdb",
        "force": False,
    },
    "StartNetwork": {
        "userId": "admin",
        "vlan": 10,
        "netName": "admin-default",
        "nameserver": "192.168.7.1",
        "clusterControllers": ["192.168.7.2", "192.168.8.2"],
    },
    "StopNetwork": {"userId": "admin", "vlan": 10, "netName": "admin-default"},
    "ConfigureNetwork": {
        "correlationId": "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b",
        "userId": "admin",
        "rules": [
            {
                "type": "firewall-open",
                "sourceNames": ["default", "db"],
                "userNames": ["admin", "alice"],
                "destUserName": "admin",
                "destName": "web",
                "protocol": "tcp",
                "portRangeMin": 80,
                "portRangeMax": 443,
            },
            {
                "type": "firewall-open",
                "sourceNets": ["0.0.0.0/0", "10.1.0.0/16"],
                "destName": "web",
                "protocol": "icmp",
                "portRangeMin": -1,
                "portRangeMax": -1,
            },
        ],
    },
    "AssignAddress": {"userId": "admin", "source": "192.168.7.100", "dest": "10.0.10.2"},
    "UnassignAddress": {"userId": "admin", "source": "192.168.7.100", "dest": "10.0.10.2"},
    "DescribeNetworks": {
        "userId": "eucalyptus",
        "nameserver": "192.168.7.1",
        "clusterControllers": ["192.168.7.2", "192.168.8.2"],
    },
    "DescribePublicAddresses": {
        "correlationId": "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
        "userId": "eucalyptus",
        "statusMessage": "queued",
        "return": False,
    },
}


def lexical(value):
    """The XSD lexical form zeep writes for a Python value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def args_tree(parent, args):
    for name, value in args.items():
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(parent, name)
            if isinstance(item, dict):
                args_tree(child, item)
            else:
                child.text = lexical(item)


def build(out_dir, service, wsdl, cases):
    client = Client(wsdl)
    declared = set(client.service._binding._operations)
    if declared != set(cases):
        sys.exit(f"{service}: cases {sorted(cases)} do not match the WSDL's {sorted(declared)}")
    for operation, args in cases.items():
        envelope = client.create_message(client.service, operation, **args)
        (out_dir / f"{service}.{operation}.envelope.xml").write_bytes(etree_to_string(envelope))
        root = etree.Element("args")
        args_tree(root, args)
        (out_dir / f"{service}.{operation}.args.xml").write_bytes(etree.tostring(root))


def main():
    out_dir, nc_wsdl, cc_wsdl = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    build(out_dir, "nc", nc_wsdl, NC_CASES)
    build(out_dir, "cc", cc_wsdl, CC_CASES)


if __name__ == "__main__":
    main()
