"""booksync.qbxml.parse and errors: status codes become typed errors; untrusted XML is refused."""
from __future__ import annotations

import pytest

from booksync.errors import (CannotModify, ClosedPeriod, InvalidReference, InvalidValue, NameInUse, NotFound,
                                   OutOfDate, RecordLocked, Refused)
from booksync.qbxml.parse import MalformedResponse, parse_response


def response(*rs: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?><QBXML><QBXMLMsgsRs>' + "".join(rs)
            + "</QBXMLMsgsRs></QBXML>").encode()


def status(kind: str, code: int, severity: str, message: str, request_id: str = "1") -> str:
    return (f'<{kind}Rs requestID="{request_id}" statusCode="{code}" statusSeverity="{severity}" '
            f'statusMessage="{message}"/>')


@pytest.mark.parametrize("code, message, error_type", [
    (3100, "The name &quot;Acme&quot; of the list element is already in use.", NameInUse),
    (3120, "Object &quot;X&quot; specified in the request cannot be found.", NotFound),
    (3140, "There is an invalid reference to QuickBooks Customer &quot;9&quot;.", InvalidReference),
    (3171, "An attempt was made to modify a Invoice dated 2025-01-01, on or before the closing date.", ClosedPeriod),
    (3200, "The provided edit sequence &quot;1&quot; is out-of-date.", OutOfDate),
    (3210, "The &quot;PaymentAmount&quot; field has an invalid value.", InvalidValue),
    (3040, "There is an invalid amount &quot;1.005&quot; in the Amount field.", InvalidValue),
    (3170, "The request could not be completed: the invoice has payments applied.", CannotModify),
    (3160, "The payment cannot be deleted because it is part of a deposit.", CannotModify),
    (3999, "Something else.", Refused),
])
def test_status_codes_become_typed_errors(code, message, error_type):
    """Each error status maps to its typed error, keeping QuickBooks' code, message, request type and ID."""
    (rs,) = parse_response(response(status("InvoiceAdd", code, "Error", message, "42")))
    assert not rs.ok
    error = rs.error()
    assert type(error) is error_type
    assert (error.code, error.request_type, error.request_id) == (code, "InvoiceAdd", "42")
    assert error.message == message.replace("&quot;", '"')
    assert error.transient is False
    with pytest.raises(error_type) as raised:
        rs.raise_for_status()
    assert f"QuickBooks status {code}" in str(raised.value)


@pytest.mark.parametrize("message", [
    "The record is being modified by another user.",
    "Object 80000001-1 could not be locked.",
    "The list element is in use by another user.",
])
def test_3170_with_a_lock_text_is_a_transient_record_locked(message):
    """3170 with one of QuickBooks' lock texts is RecordLocked, which a caller may retry."""
    (rs,) = parse_response(response(status("CustomerMod", 3170, "Error", message)))
    error = rs.error()
    assert type(error) is RecordLocked
    assert error.transient is True


def test_3170_without_a_lock_text_is_cannot_modify():
    """3170 without a lock text is a business-rule refusal (CannotModify), not retried."""
    (rs,) = parse_response(response(status("TxnVoid", 3170, "Error", "The invoice has payments applied.")))
    assert type(rs.error()) is CannotModify
    assert rs.error().transient is False


def test_warnings_and_no_match_are_processed():
    """Codes below 1000 (0 OK, 1 no match, 500 warning) are processed: raise_for_status returns the response."""
    data = response(status("CustomerQuery", 1, "Info", "A query request did not find a matching object"),
                    '<CustomerAddRs requestID="2" statusCode="500" statusSeverity="Warn" '
                    'statusMessage="The name was cut."><CustomerRet><ListID>8-1</ListID></CustomerRet></CustomerAddRs>',
                    '<CustomerQueryRs requestID="3" statusCode="0" statusSeverity="Info" statusMessage="OK" '
                    'iteratorRemainingCount="12" iteratorID="{it}"/>')
    none, warned, page = parse_response(data)
    assert none.ok and none.code == 1
    assert warned.ok and warned.raise_for_status() is warned
    assert warned.severity == "Warn" and warned.message == "The name was cut."
    assert [r.findtext("ListID") for r in warned.rets] == ["8-1"]
    assert (page.iterator_id, page.remaining, page.request_id) == ("{it}", 12, "3")


@pytest.mark.parametrize("data, reason", [
    (b"QuickBooks is not running", "not well-formed"),
    (b"", "not well-formed|empty"),
    (b"<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode='0'>", "not well-formed"),
    (b"<html><body>Service unavailable</body></html>", "not <QBXML>"),
    (b"<QBXML><QBXMLMsgsRq onError='stopOnError'/></QBXML>", "no QBXMLMsgsRs"),
    (b"<QBXML><QBXMLMsgsRs><CustomerQueryRs statusSeverity='Info'/></QBXMLMsgsRs></QBXML>", "statusCode"),
    (b"<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode='zero'/></QBXMLMsgsRs></QBXML>", "statusCode"),
    (b"<QBXML><QBXMLMsgsRs><CustomerRet/></QBXMLMsgsRs></QBXML>", "unexpected element"),
])
def test_malformed_responses_are_refused(data, reason):
    """Anything that is not a QBXML response with status attributes raises MalformedResponse."""
    with pytest.raises(MalformedResponse, match=reason):
        parse_response(data)


def billion_laughs(levels: int, use: str) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, levels + 1)]
    body = {"text": f'<CustomerQueryRs statusCode="0" statusSeverity="Info" statusMessage="OK">'
                    f"<CustomerRet><Name>&lol{levels};</Name></CustomerRet></CustomerQueryRs>",
            "attribute": f'<CustomerQueryRs statusCode="0" statusSeverity="Info" statusMessage="&lol{levels};"/>'}[use]
    return (f'<?xml version="1.0"?><!DOCTYPE QBXML [{"".join(entities)}]>'
            f"<QBXML><QBXMLMsgsRs>{body}</QBXMLMsgsRs></QBXML>").encode()


@pytest.mark.parametrize("use", ["text", "attribute"])
def test_billion_laughs_is_refused(use):
    """The classic entity-expansion bomb is refused, whether the entity is used in text or in an attribute."""
    with pytest.raises(MalformedResponse):
        parse_response(billion_laughs(9, use))


def test_external_entity_in_text_is_refused_and_not_read(tmp_path):
    """An external entity (XXE) is never read: the response is refused and the file's text appears nowhere."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    data = (f'<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
            '<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0" statusSeverity="Info" statusMessage="OK">'
            "<CustomerRet><Name>&x;</Name></CustomerRet></CustomerQueryRs></QBXMLMsgsRs></QBXML>").encode()
    with pytest.raises(MalformedResponse) as raised:
        parse_response(data)
    assert "TOP-SECRET-VALUE" not in str(raised.value)


def test_external_entity_in_an_attribute_is_refused(tmp_path):
    """An external entity referenced from an attribute is refused (MalformedResponse)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    data = (f'<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
            '<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0" statusSeverity="Info" statusMessage="&x;"/>'
            "</QBXMLMsgsRs></QBXML>").encode()
    with pytest.raises(MalformedResponse):
        parse_response(data)


def test_internal_entity_in_an_attribute_is_never_resolved():
    """An entity declared in the document and used in an attribute must not be expanded into the message."""
    data = (b'<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY x "EXPANDED-ENTITY">]>'
            b'<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0" statusSeverity="Info" statusMessage="&x;"/>'
            b"</QBXMLMsgsRs></QBXML>")
    try:
        responses = parse_response(data)
    except MalformedResponse:
        return
    assert "EXPANDED-ENTITY" not in responses[0].message


def test_a_response_with_a_dtd_is_refused():
    """A DOCTYPE with entity declarations is an attack attempt, not a QuickBooks answer: refuse it."""
    data = (b'<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;">]>'
            b'<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0" statusSeverity="Info" statusMessage="OK"/>'
            b"</QBXMLMsgsRs></QBXML>")
    with pytest.raises(MalformedResponse):
        parse_response(data)


def test_a_non_numeric_iterator_remaining_count_is_malformed():
    """Every malformed status attribute is reported as MalformedResponse, the error callers handle."""
    with pytest.raises(MalformedResponse):
        parse_response(b'<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode="0" statusSeverity="Info" '
                       b'iteratorRemainingCount="lots"/></QBXMLMsgsRs></QBXML>')


def test_str_input_with_an_encoding_declaration_is_accepted():
    """A response handed over as str (e.g. from the Web Connector) parses even with its XML declaration."""
    text = ('<?xml version="1.0" encoding="ISO-8859-1"?>\n<QBXML><QBXMLMsgsRs>'
            '<CustomerQueryRs statusCode="0" statusSeverity="Info" statusMessage="OK">'
            "<CustomerRet><Name>Café Olé Bakery</Name></CustomerRet></CustomerQueryRs></QBXMLMsgsRs></QBXML>")
    (rs,) = parse_response(text)
    assert rs.rets[0].findtext("Name") == "Café Olé Bakery"
