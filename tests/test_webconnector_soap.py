"""SOAP for the Web Connector: calls read as the WSDL declares them, answers always well-formed SOAP.

The application is driven in process through httpx's ASGI transport; test_webconnector.py drives
the real server with a client generated from the WSDL.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from lxml import etree

from booksync.config import Home
from booksync.server import create_app
from booksync.webconnector.soap import SOAP11, SOAP12, TNS, SoapFault, parse_call, response

from test_webconnector_service import cheap_hash

USER, PASSWORD = "office", "correct horse battery"


def envelope(operation: str, inner: str = "", namespace: str = SOAP11, tns: str = TNS) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{namespace}"><soap:Body>'
            f'<{operation} xmlns="{tns}">{inner}</{operation}></soap:Body></soap:Envelope>').encode()


class Client:
    """Synchronous requests to the application, in process."""

    def __init__(self, app) -> None:
        self.app = app

    async def _request(self, method: str, url: str, **kw) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            return await c.request(method, url, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return asyncio.run(self._request("POST", url, **kw))

    def get(self, url: str) -> httpx.Response:
        return asyncio.run(self._request("GET", url))


@pytest.fixture
def client(tmp_path: Path) -> Client:
    home = Home.load(tmp_path / "home", create=True)
    home.settings["webconnector"].update(user=USER, password_hash=cheap_hash(PASSWORD), max_body_bytes=4096)
    home.save()
    return Client(create_app(home.path))


def answer(response) -> etree._Element:
    assert response.headers["content-type"].startswith(("text/xml", "application/soap+xml"))
    return etree.fromstring(response.content)


def result(response, operation: str) -> etree._Element:
    root = answer(response)
    return root.find(f".//{{{TNS}}}{operation}Response/{{{TNS}}}{operation}Result")


def faultstring(response) -> str:
    return answer(response).findtext(".//faultstring") or ""


def test_every_wsdl_operation_is_read_with_its_parameters():
    call = parse_call(envelope("sendRequestXML", "<ticket>T</ticket><strHCPResponse>&lt;QBXML/&gt;</strHCPResponse>"
                                                 "<strCompanyFileName>C:\\a.qbw</strCompanyFileName>"
                                                 "<qbXMLCountry>US</qbXMLCountry><qbXMLMajorVers>13</qbXMLMajorVers>"
                                                 "<qbXMLMinorVers>0</qbXMLMinorVers>"))
    assert call.operation == "sendRequestXML"
    assert call.params == {"ticket": "T", "strHCPResponse": "<QBXML/>", "strCompanyFileName": "C:\\a.qbw",
                           "qbXMLCountry": "US", "qbXMLMajorVers": 13, "qbXMLMinorVers": 0}
    call = parse_call(envelope("receiveResponseXML", "<ticket>T</ticket><response/><hresult>0x80040400</hresult>"))
    assert call.params == {"ticket": "T", "response": "", "hresult": "0x80040400", "message": None}
    assert parse_call(envelope("getServerVersion", "<ticket>T</ticket>")).operation == "serverVersion"


def test_answers_are_document_literal_wrapped():
    call = parse_call(envelope("authenticate", "<strUserName>u</strUserName><strPassword>p</strPassword>"))
    root = etree.fromstring(response(call, ["ticket", "nvu"]))
    strings = root.findall(f".//{{{TNS}}}authenticateResult/{{{TNS}}}string")
    assert [s.text for s in strings] == ["ticket", "nvu"]
    call = parse_call(envelope("receiveResponseXML", "<ticket>T</ticket>"))
    assert etree.fromstring(response(call, -101)).findtext(f".//{{{TNS}}}receiveResponseXMLResult") == "-101"


@pytest.mark.parametrize("body, complaint", [
    (b"", "empty"),
    (b"<not-closed", "not well-formed"),
    (b"<a/>", "not a SOAP envelope"),
    (envelope("authenticate", tns="http://example.com/"), "Unknown operation"),
    (envelope("deleteEverything"), "Unknown operation"),
    (envelope("getInteractiveURL", "<wcTicket>T</wcTicket>"), "interactive mode"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ELEMENT x ANY>]><soap:Envelope xmlns:soap="'
     + SOAP11.encode() + b'"><soap:Body/></soap:Envelope>', "DTD"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><soap:Envelope xmlns:soap="'
     + SOAP11.encode() + b'"><soap:Body><authenticate xmlns="http://developer.intuit.com/"><strUserName>&e;'
       b'</strUserName></authenticate></soap:Body></soap:Envelope>', "DTD"),
    (envelope("sendRequestXML", "<qbXMLMajorVers>thirteen</qbXMLMajorVers>"), "not an integer"),
])
def test_what_is_not_a_call_of_the_wsdl_is_a_fault(body, complaint):
    with pytest.raises(SoapFault, match=complaint):
        parse_call(body)


def test_the_application_answers_soap_for_everything(client):
    ok = client.post("/qbwc", content=envelope("authenticate", f"<strUserName>{USER}</strUserName>"
                                                                "<strPassword>wrong</strPassword>"))
    assert ok.status_code == 200
    strings = [s.text or "" for s in result(ok, "authenticate")]
    assert len(strings) == 2 and len(strings[0]) >= 32 and strings[1] == "nvu"
    version = client.post("/qbwc", content=envelope("serverVersion", "<strVersion/>"))
    assert result(version, "serverVersion").text.startswith("booksync ")
    bad = client.post("/qbwc", content=b"<oops")
    assert bad.status_code == 500 and "not well-formed" in faultstring(bad)
    interactive = client.post("/qbwc", content=envelope("interactiveDone", "<wcTicket>x</wcTicket>"))
    assert interactive.status_code == 500 and "not supported" in faultstring(interactive)


def test_soap_12_is_answered_in_soap_12(client):
    r = client.post("/qbwc", content=envelope("clientVersion", "<strVersion>2.3.0.215</strVersion>", SOAP12),
                    headers={"Content-Type": "application/soap+xml"})
    assert r.headers["content-type"].startswith("application/soap+xml")
    assert etree.QName(answer(r)).namespace == SOAP12


def test_the_body_is_bounded(client):
    big = envelope("authenticate", "<strUserName>" + "x" * 5000 + "</strUserName>")
    r = client.post("/qbwc", content=big)
    assert r.status_code == 413 and "larger than booksync accepts (4096 bytes)" in faultstring(r)
    async def chunks():  # no Content-Length: the bound applies while reading
        yield big[:3000]
        yield big[3000:]

    streamed = client.post("/qbwc", content=chunks())
    assert streamed.status_code == 413 and "larger than booksync accepts" in faultstring(streamed)


def test_info_and_support_pages(client):
    assert "Web Connector service" in client.get("/qbwc").text
    support = client.get("/qbwc/support")
    assert support.status_code == 200 and "booksync runs confirm" in support.text


def test_a_body_of_many_or_deeply_nested_elements_is_refused_before_a_tree_is_built(monkeypatch):
    """Issue 19 item 4: 2.6 million empty elements in 10 MB (under the size limit) took the server from 122 MB
    to 436 MB while lxml built the tree, before authentication. The shape check stops at the first node over
    the limit; the tree parser is never reached (parse_xml would build the tree)."""
    import booksync.webconnector.soap as soap

    def no_tree(*_, **__):
        raise AssertionError("a tree was built")

    monkeypatch.setattr(soap, "parse_xml", no_tree)
    credentials = "<strUserName>office</strUserName><strPassword>x</strPassword>"
    wide = envelope("authenticate", credentials + "<x/>" * 2_600_000)
    assert len(wide) < 10 * 1024 * 1024
    with pytest.raises(SoapFault, match="more than 1000 elements; a Web Connector call has about ten"):
        parse_call(wide)
    with pytest.raises(SoapFault, match="more than 32 deep"):
        parse_call(envelope("authenticate", "<x>" * 100_000 + "</x>" * 100_000))
    with pytest.raises(SoapFault, match="more than 1000 elements"):
        parse_call(envelope("authenticate", credentials + "<!--c-->" * 5000))


def test_a_call_within_the_bounds_is_read_and_an_oversized_one_answered_with_a_fault(tmp_path: Path):
    client = Client(create_app(Home.load(tmp_path / "home", create=True).path))
    at_limit = envelope("serverVersion", "<strVersion/>" + "<x/>" * 990)
    assert result(client.post("/qbwc", content=at_limit), "serverVersion").text.startswith("booksync ")
    over = client.post("/qbwc", content=envelope("serverVersion", "<x/>" * 1000))
    assert over.status_code == 500 and "more than 1000 elements" in faultstring(over)


def test_unknown_host_names_are_refused_on_the_soap_endpoint_too(client):
    """Issue 19 item 2: the whole server (SOAP and web) answers only to allowed Host names."""
    ok = client.post("/qbwc", content=envelope("serverVersion", "<strVersion/>"))
    assert ok.status_code == 200
    rebind = client.post("/qbwc", content=envelope("serverVersion", "<strVersion/>"),
                         headers={"host": "rebind.attacker.example"})
    assert rebind.status_code == 400 and "allowed_hosts" in rebind.text
