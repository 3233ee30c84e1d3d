"""Reads EC2 request documents with zeep and has zeep write each request again.

Usage: zeep_ec2_reserialize.py WSDL FILE...

For each FILE (one request element, e.g. <RunInstances xmlns="http://ec2.amazonaws.com/doc/
2009-04-04/">), zeep, loading WSDL, parses the element with the schema's type for it and builds
that operation's request from the parsed value with `client.create_message`; nothing is sent.
The envelope is written beside the file as FILE.zeep.xml. Prints one line per file:
`ok<TAB>FILE` or `failed<TAB>FILE<TAB>reason`.
"""

import sys

from lxml import etree
from zeep import Client


def main():
    wsdl, files = sys.argv[1], sys.argv[2:]
    client = Client(wsdl)
    for path in files:
        try:
            node = etree.parse(path).getroot()
            element = client.get_element(node.tag)
            value = element.parse(node, client.wsdl.types)
            # zeep reads an element of an empty type (AllocateAddress) as None.
            fields = {} if value is None else {name: value[name] for name in value}
            operation = etree.QName(node).localname
            envelope = client.create_message(client.service, operation, **fields)
            with open(f"{path}.zeep.xml", "wb") as out:
                out.write(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))
            print(f"ok\t{path}")
        except Exception as error:  # one verdict per file, whatever went wrong
            print(f"failed\t{path}\t{type(error).__name__}: {error}".replace("\n", " "))


if __name__ == "__main__":
    main()
