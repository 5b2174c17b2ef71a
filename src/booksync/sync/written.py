"""What booksync writes, as the link table and the journal keep it: an operation's payload as canonical JSON
(:func:`written_json`), its SHA-256 fingerprint (:func:`fingerprint`, :func:`stamp`), and the stable ExternalGUID of a
record (:func:`external_guid`). Link rows store these, so they never change: tests/test_fields_planner.py pins them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal
from typing import Any, Iterator

from booksync.domain import ApplicationData, CreditData, Kind, LineData, PaymentData, Ref, SalesData

GUID_NAMESPACE = uuid.UUID("6f1c3a52-9d1e-4f7b-8a2d-5b0c1e9a7d31")


def external_guid(company_key: str, kind: Kind, local_id: int) -> str:
    """A stable ExternalGUID for a record, so a lost response can be matched later: the name-based
    UUID (version 5, RFC 4122 §4.3) of "COMPANY/KIND/ID", in braces and upper case as QuickBooks writes it."""
    digest = bytearray(hashlib.sha1(_GUID_PREFIX + f"{company_key}/{kind.value}/{local_id}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex().upper()
    return f"{{{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}}}"


_GUID_PREFIX = GUID_NAMESPACE.bytes


_FIELDS: dict[type, tuple[str, ...]] = {}


def _encode_default(value: Any) -> Any:
    """What the JSON encoder cannot write itself: Decimals and dates as text, a Ref as {ref, id, name}, a
    payload dataclass as its fields but ``external_guid``."""
    t = type(value)
    if t is Decimal:
        return str(value)
    if t is Ref:
        return {"ref": value.kind, "id": value.local_id if value.local_id is not None else value.remote_id,
                "name": value.name}
    if t is dt.date or t is dt.datetime:
        return value.isoformat()
    names = _FIELDS.get(t)
    if names is None:
        if not hasattr(value, "__dataclass_fields__"):
            raise TypeError(f"cannot write {t.__name__} as JSON")
        names = _FIELDS[t] = tuple(k for k in value.__dataclass_fields__ if k != "external_guid")
    out = {k: getattr(value, k) for k in names}
    if t is LineData and value.class_ref is None:
        del out["class_ref"]  # a line without a class writes what it wrote before classes: fingerprints keep
    return out


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=_encode_default)


def written_json(payload: Any) -> str:
    """The payload as canonical JSON: what the link table keeps as "written".

    Keys sorted, no ASCII escaping, written by the C encoder with a hook for the payload classes; invoices,
    credit memos and payments (nearly every operation of a large plan) by :func:`_fast_json`, which writes the
    same characters without the hook's dictionaries. Fingerprints in the link table depend on it never
    changing: tests/test_fields_planner.py pins one and compares both writers with the first
    implementation's recursive encoding."""
    writer = _FAST.get(type(payload))
    if writer is not None:
        try:
            return writer(payload)
        except _NotPlain:
            pass
    return _ENCODER.encode(payload)


class _NotPlain(Exception):
    """A value the fast writer does not handle exactly as the encoder would (the encoder then writes it)."""


def _s(value: Any) -> str:
    if type(value) is not str:
        raise _NotPlain
    return _quote(value)


def _dec(value: Any) -> str:
    if type(value) is not Decimal:
        raise _NotPlain
    return f'"{value}"'


def _day(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is not dt.date:
        raise _NotPlain
    return f'"{value.isoformat()}"'


def _ref(ref: Any) -> str:
    if ref is None:
        return "null"
    if type(ref) is not Ref:
        raise _NotPlain
    key = ref.local_id if ref.local_id is not None else ref.remote_id
    if key is None:
        key_json = "null"
    elif type(key) is int:
        key_json = str(key)
    else:
        key_json = _s(key)
    return f'{{"id": {key_json}, "name": {_s(ref.name)}, "ref": {_s(ref.kind)}}}'


def _of(kind: type, values: Any) -> Any:
    if type(values) is not tuple or any(type(v) is not kind for v in values):
        raise _NotPlain
    return values


def _sales_json(d: SalesData) -> str:
    if any(x.class_ref is not None for x in d.lines):
        raise _NotPlain  # lines with a class: the encoder writes them
    lines = ", ".join(f'{{"amount": {_dec(x.amount)}, "description": {_s(x.description)}, "item": {_ref(x.item)}, '
                      f'"quantity": {_dec(x.quantity)}, "rate": {_dec(x.rate)}}}' for x in _of(LineData, d.lines))
    if type(d.date) is not dt.date:
        raise _NotPlain
    return (f'{{"customer": {_ref(d.customer)}, "date": {_day(d.date)}, "due_date": {_day(d.due_date)}, '
            f'"lines": [{lines}], "memo": {_s(d.memo)}, "ref_number": {_s(d.ref_number)}}}')


def _credit_json(c: CreditData) -> str:
    return f'{{"amount": {_dec(c.amount)}, "credit_memo": {_ref(c.credit_memo)}}}'


def _application_json(a: ApplicationData) -> str:
    credits = ", ".join(_credit_json(c) for c in _of(CreditData, a.credits))
    return f'{{"amount": {_dec(a.amount)}, "credits": [{credits}], "invoice": {_ref(a.invoice)}}}'


def _payment_json(d: PaymentData) -> str:
    apps = ", ".join(_application_json(a) for a in _of(ApplicationData, d.applications))
    if type(d.date) is not dt.date:
        raise _NotPlain
    return (f'{{"applications": [{apps}], "customer": {_ref(d.customer)}, "date": {_day(d.date)}, '
            f'"deposit_to": {_ref(d.deposit_to)}, "memo": {_s(d.memo)}, "method": {_ref(d.method)}, '
            f'"ref_number": {_s(d.ref_number)}, "total": {_dec(d.total)}}}')


_quote = json.encoder.encode_basestring  # the encoder's own string writer (ensure_ascii=False)
_FAST: dict[type, Any] = {SalesData: _sales_json, PaymentData: _payment_json}


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(written_json(payload).encode()).hexdigest()


def stamp(payload: Any) -> dict[str, str]:
    """``fingerprint`` and ``written`` of an operation carrying ``payload``, computed once (the journal
    reuses ``written``; docs/performance.md finding 2)."""
    written = written_json(payload)
    return {"fingerprint": hashlib.sha256(written.encode()).hexdigest(), "written": written}


def written_targets(written: str | None) -> Iterator[tuple[str, int]]:
    """(kind, local id) of each invoice and credit memo a payment's written JSON applies to."""
    try:
        payload = json.loads(written or "{}")
    except ValueError:
        return
    for app in payload.get("applications") or []:
        credits = [c.get("credit_memo") or {} for c in app.get("credits") or []]
        for ref in [app.get("invoice") or {}, *credits]:
            if ref.get("ref") in (Kind.INVOICE.value, Kind.CREDIT_MEMO.value) and isinstance(ref.get("id"), int):
                yield ref["ref"], ref["id"]
