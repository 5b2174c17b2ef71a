"""Corrections in words: what changed between what booksync wrote and what it writes now (:func:`describe_changes`,
for the Corrections Log and the plan), the G/L accounts a correction posts to (:func:`accounts_of`), and the web
interface's words for the choices the command line makes with flags (a problem's web remedy names these)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any


# The web interface's words for the choices the command line makes with flags (the dashboard's "Options for
# corrections", web/templates/dashboard.html): a problem's web remedy names these, never a flag.
WEB_CONFLICT = ("decide under \"Options for corrections\" on the dashboard: \"Overwrite it with the billing store's "
                "version\" (the billing store wins) or \"Skip it\" (leave QuickBooks' version), then synchronize again")
WEB_ADJUST = ("choose \"Post the difference today as an adjustment\" under \"Options for corrections\" on the "
              "dashboard and synchronize again, or ask the accountant to move the closing date")
WEB_DEPOSITS = ("tick \"Correct deposited payments even when the deposit's total changes\" under \"Options for "
                "corrections\" on the dashboard, then synchronize again")


def describe_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Human lines "field: before -> after" between two canonical payloads."""
    out = []
    labels = {"customer": "member", "date": "date", "ref_number": "number", "memo": "memo", "total": "amount",
              "due_date": "due date", "deposit_to": "deposit account", "method": "payment method",
              "check_number": "check number",
              "name": "name", "company_name": "company", "first_name": "contact first name",
              "last_name": "contact last name", "address": "address", "phone": "phone", "email": "email"}
    for key in sorted(set(before) | set(after)):
        if key in ("lines", "applications"):
            continue
        b, a = before.get(key), after.get(key)
        if isinstance(b, dict) and "ref" in b:
            b = b.get("name")
        if isinstance(a, dict) and "ref" in a:
            a = a.get("name")
        if isinstance(b, dict) or isinstance(a, dict):
            b = ", ".join(str(v) for v in (b or {}).values() if v)
            a = ", ".join(str(v) for v in (a or {}).values() if v)
        if b != a and key in labels:
            out.append(f"{labels[key]}: {b or '(none)'} -> {a or '(none)'}")
    if before.get("lines") != after.get("lines") and ("lines" in before or "lines" in after):
        out.append(f"lines: {_lines_text(before.get('lines'))} -> {_lines_text(after.get('lines'))}")
    if before.get("applications") != after.get("applications") and ("applications" in before
                                                                     or "applications" in after):
        out.append(f"applied to: {_apps_text(before.get('applications'))} -> "
                   f"{_apps_text(after.get('applications'))}")
    return out


def _lines_text(lines: list | None) -> str:
    if not lines:
        return "(none)"
    return "; ".join(f"{ln['item']['name']} {ln['amount']}" for ln in lines)


def _apps_text(apps: list | None) -> str:
    if not apps:
        return "(none)"
    parts = []
    for app in apps:
        text = f"{app['invoice']['name']} {app['amount']}"
        for credit in app.get("credits") or []:
            text += f" + credit {credit['credit_memo']['name']} {credit['amount']}"
        parts.append(text)
    return "; ".join(parts)


def total_of(payload: dict[str, Any]) -> Decimal:
    if "total" in payload:
        return Decimal(payload["total"])
    return sum((Decimal(ln["amount"]) for ln in payload.get("lines") or []), Decimal("0.00"))


def accounts_of(*written: dict) -> tuple[str, ...]:
    """The G/L accounts written payloads post to, in order without repeats, for the Corrections Log: the items
    of invoice and credit memo lines (named after their G/L accounts) and a payment's deposit account."""
    names = []
    for payload in written:
        names += [(ln.get("item") or {}).get("name", "") for ln in payload.get("lines") or []]
        names.append((payload.get("deposit_to") or {}).get("name", ""))
    return tuple(dict.fromkeys(n for n in names if n))
