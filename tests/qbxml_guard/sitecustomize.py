"""Test-only qbXML guard for booksync CLI subprocesses (put this folder on PYTHONPATH).

When QBXML_GUARD_LOG is set, every message the simulator's Processor.process is
given is traced (its request tags) to that JSON-lines file. When QBXML_GUARD_XSD is
also set, the request and the response are validated against the schema; a
violation is logged and raised, so the run fails loudly. The test suite reads the
log after each run (tests/conftest.py, run_cli).
"""
import json
import os
import re

_LOG = os.environ.get("QBXML_GUARD_LOG")
_XSD = os.environ.get("QBXML_GUARD_XSD")


def _install() -> None:
    from lxml import etree

    from booksync.simulator.processor import Processor

    loaded: dict = {}

    def schema():
        if "schema" not in loaded:
            loaded["schema"] = etree.XMLSchema(etree.parse(_XSD)) if _XSD else None
        return loaded["schema"]

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    original = Processor.process

    def write(entry: dict) -> None:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def check(message, what: str):
        data = message if isinstance(message, bytes) else re.sub(r"^\s*<\?xml[^>]*\?>", "", message).encode("utf-8")
        try:
            doc = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            problem = f"not well-formed: {exc}"
            doc = None
        else:
            xsd = schema()
            if xsd is None or xsd.validate(doc):
                return doc
            problem = "; ".join(str(e) for e in list(xsd.error_log)[:3])
        write({"event": "violation", "what": what, "problem": problem})
        raise AssertionError(f"qbXML {what} does not validate against the schema: {problem}")

    def process(self, message):
        doc = check(message, "request")
        msgs = doc.find("QBXMLMsgsRq") if doc is not None else None
        tags = [el.tag for el in msgs if isinstance(el.tag, str)] if msgs is not None else []
        write({"event": "request", "requests": tags})
        response = original(self, message)
        check(response, "response")
        return response

    Processor.process = process


if _LOG:
    _install()
