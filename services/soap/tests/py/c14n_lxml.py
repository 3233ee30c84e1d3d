"""Reference exclusive canonicalization (without comments), for services/soap/tests/c14n.rs.

Reads jobs from stdin, one per line: ENGINE <TAB> FILE <TAB> APEX <TAB> PREFIXES
  ENGINE    "lxml": etree.tostring(el, method="c14n", exclusive=True, with_comments=False,
            inclusive_ns_prefixes=...), the canonicalization zeep/xmlsec/signxml signatures use;
            "libxml2": the same libxml2 routine (xmlC14NDocDumpMemory) called directly through
            ctypes, with the apex subtree given as an XPath node-set. lxml silently drops the
            "#default" token from inclusive_ns_prefixes (its _convert_ns_prefixes keeps only
            strings found in the document's name dictionary), so lists naming "#default" can
            only be checked this way.
  FILE      path of an XML document
  APEX      path of the apex element: "/" is the document element, "/Envelope/Body/*[1]"
            walks child elements by local name ("*" matches any) with an optional 1-based
            index among the matching siblings
  PREFIXES  the InclusiveNamespaces PrefixList, space separated, may be empty
Writes one line per job: the canonical bytes in hex, or "!" followed by an error message.
"""

import ctypes
import sys

from lxml import etree


class Path:
    def __init__(self, text):
        self.steps = []
        for step in (s for s in text.split("/") if s):
            name, _, index = step.partition("[")
            self.steps.append((name, int(index.rstrip("]")) if index else 1))

    def find(self, root):
        if not self.steps:
            return root
        (name, index), rest = self.steps[0], self.steps[1:]
        if index != 1 or name not in ("*", etree.QName(root).localname):
            raise LookupError(f"the root is not {name!r}")
        node = root
        for name, index in rest:
            matches = [
                c for c in node
                if isinstance(c.tag, str) and name in ("*", etree.QName(c).localname)
            ]
            if index > len(matches):
                raise LookupError(f"no {name}[{index}] under {etree.QName(node).localname}")
            node = matches[index - 1]
        return node

    def xpath(self):
        """The apex as an absolute XPath expression."""
        steps = self.steps or [("*", 1)]
        return "".join(
            f"/*[{index}]" if name == "*" else f"/*[local-name()='{name}'][{index}]"
            for name, index in steps
        )


def with_lxml(data, path, prefixes):
    parser = etree.XMLParser(resolve_entities=False, strip_cdata=True, no_network=True)
    element = path.find(etree.fromstring(data, parser))
    return etree.tostring(
        element,
        method="c14n",
        exclusive=True,
        with_comments=False,
        inclusive_ns_prefixes=prefixes or None,
    )


class XPathObject(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("nodesetval", ctypes.c_void_p)]


def with_libxml2(data, path, prefixes):
    lib = ctypes.CDLL("libxml2.so.2")
    lib.xmlReadMemory.restype = ctypes.c_void_p
    lib.xmlReadMemory.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    lib.xmlXPathNewContext.restype = ctypes.c_void_p
    lib.xmlXPathNewContext.argtypes = [ctypes.c_void_p]
    lib.xmlXPathEvalExpression.restype = ctypes.POINTER(XPathObject)
    lib.xmlXPathEvalExpression.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.xmlC14NDocDumpMemory.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
        ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
    ]
    lib.xmlFreeDoc.argtypes = [ctypes.c_void_p]
    lib.xmlXPathFreeContext.argtypes = [ctypes.c_void_p]
    lib.xmlXPathFreeObject.argtypes = [ctypes.POINTER(XPathObject)]
    xml_parse_nonet = 1 << 11
    doc = lib.xmlReadMemory(data, len(data), None, None, xml_parse_nonet)
    if not doc:
        raise ValueError("libxml2 could not parse the document")
    context = lib.xmlXPathNewContext(doc)
    apex = path.xpath()
    subset = (
        f"({apex}/descendant-or-self::node() | {apex}/descendant-or-self::*/@*"
        f" | {apex}/descendant-or-self::*/namespace::*)"
    )
    result = lib.xmlXPathEvalExpression(subset.encode(), context)
    try:
        if not result or not result.contents.nodesetval:
            raise LookupError(f"no node matches {subset}")
        c_prefixes = (ctypes.c_char_p * (len(prefixes) + 1))(*[p.encode() for p in prefixes], None)
        out = ctypes.c_void_p()
        xml_c14n_exclusive_1_0 = 1
        size = lib.xmlC14NDocDumpMemory(
            doc, result.contents.nodesetval, xml_c14n_exclusive_1_0, c_prefixes, 0, ctypes.byref(out)
        )
        if size < 0:
            raise ValueError("xmlC14NDocDumpMemory failed")
        c14n = ctypes.string_at(out, size)
        ctypes.CFUNCTYPE(None, ctypes.c_void_p).in_dll(lib, "xmlFree")(out)
        return c14n
    finally:
        if result:
            lib.xmlXPathFreeObject(result)
        lib.xmlXPathFreeContext(context)
        lib.xmlFreeDoc(doc)


ENGINES = {"lxml": with_lxml, "libxml2": with_libxml2}


def main():
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        engine, file, apex, prefixes = (line.split("\t") + ["", "", ""])[:4]
        try:
            with open(file, "rb") as f:
                data = f.read()
            print(ENGINES[engine](data, Path(apex), prefixes.split()).hex())
        except Exception as e:  # reported to the Rust test, which fails with it
            print("!" + repr(e).replace("\n", " "))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
