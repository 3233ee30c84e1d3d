"""Validates XML documents against the schema embedded in a WSDL, with xmlschema.

Usage: schema_validate.py WSDL FILE...

The `xs:schema` element inside `wsdl:types` is taken out of the WSDL (lxml keeps the namespace
declarations it inherits) and compiled by xmlschema, an implementation independent of ours. A file holding a SOAP 1.1
envelope is checked by its Body's first child. Prints one line per file: `ok<TAB>FILE` or `invalid<TAB>FILE<TAB>reason`.
"""

import sys

import xmlschema
from lxml import etree

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XS_NS = "http://www.w3.org/2001/XMLSchema"
SOAP_BODY = "{http://schemas.xmlsoap.org/soap/envelope/}Body"


def message(path):
    """The element to validate: the document's root, or the Body's first child."""
    root = etree.parse(path).getroot()
    body = root.find(SOAP_BODY)
    if body is None:
        return root
    children = [child for child in body if isinstance(child.tag, str)]
    return children[0] if children else body


def main():
    wsdl, files = sys.argv[1], sys.argv[2:]
    schema_element = etree.parse(wsdl).getroot().find(f"{{{WSDL_NS}}}types/{{{XS_NS}}}schema")
    if schema_element is None:
        sys.exit(f"{wsdl}: no wsdl:types/xs:schema")
    schema = xmlschema.XMLSchema(etree.tostring(schema_element).decode())
    for path in files:
        errors = list(schema.iter_errors(message(path)))
        if errors:
            reason = "; ".join(f"{e.path}: {e.reason}" for e in errors[:3])
            print(f"invalid\t{path}\t{reason}")
        else:
            print(f"ok\t{path}")


if __name__ == "__main__":
    main()
