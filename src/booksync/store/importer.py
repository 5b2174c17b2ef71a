"""CSV import into the billing store: members, G/L accounts, invoices, credit memos, payments.

A file is imported whole or not at all: every row is checked first, every
problem is reported with its row, column, value and reason, and nothing of the
file is written when there is one. Re-importing a record with an existing
number updates it; a record whose content did not change keeps its
``updated_at``, so an identical re-import plans no corrections.

Column layouts are documented in ``docs/import.md``.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..money import MoneyError, quantity, to_money
from .models import (Application, CreditMemo, CreditMemoLine, GLAccount, Invoice, InvoiceLine, Member,
                     Payment, _now)

KINDS = ("members", "gl-accounts", "invoices", "credit-memos", "payments")
GL_TYPES = ("Income", "Bank", "OtherCurrentAsset", "AccountsReceivable", "OtherCurrentLiability", "Expense",
            "Equity", "OtherIncome", "CostOfGoodsSold", "FixedAsset", "OtherAsset", "LongTermLiability")
MAX_PROBLEMS = 50
MAX_FILE_BYTES = 50 * 1024 * 1024

COLUMNS: dict[str, tuple[str, ...]] = {
    "members": ("number", "name", "company", "contact_first", "contact_last", "address1", "address2", "city",
                "state", "postal_code", "email", "phone", "status", "qb_customer"),
    "gl-accounts": ("number", "name", "type", "qb_account"),
    "invoices": ("number", "member", "date", "due_date", "memo", "gl_account", "description", "quantity", "rate",
                 "amount"),
    "credit-memos": ("number", "member", "date", "due_date", "memo", "gl_account", "description", "quantity",
                     "rate", "amount"),
    "payments": ("number", "member", "date", "amount", "method", "reference", "deposit_account", "memo",
                 "apply_to", "apply_amount", "apply_credit_memo", "apply_credit_amount"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "members": ("number", "name"),
    "gl-accounts": ("number", "name", "type"),
    "invoices": ("number", "member", "date", "gl_account"),
    "credit-memos": ("number", "member", "date", "gl_account"),
    "payments": ("number", "member", "date", "amount", "deposit_account"),
}


@dataclass
class ImportProblem:
    """One thing wrong with an input file: where it is and why."""

    file: str
    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, row {self.row}" + (f", column {self.column}" if self.column else "")
        value = f" (value {self.value!r})" if self.value else ""
        return f"{where}: {self.reason}{value}"


class ImportFailed(Exception):
    """The file was not imported; ``problems`` says why (nothing of it was written)."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class ImportResult:
    kind: str
    file: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class _Rows:
    """Rows of a file with their 1-based line numbers (the header is row 1)."""

    file: str
    rows: list[tuple[int, dict[str, str]]]
    problems: list[ImportProblem] = field(default_factory=list)

    def problem(self, row: int, column: str, value: str, reason: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(ImportProblem(self.file, row, column, value, reason))

    def get(self, row: int, data: dict[str, str], column: str, parse: Callable[[str], Any],
            default: Any = None) -> Any:
        raw = data.get(column, "") or ""
        if raw == "":
            return default
        try:
            return parse(raw)
        except (ValueError, MoneyError) as exc:
            self.problem(row, column, raw, str(exc))
            return default


def read_csv(path: Path, kind: str) -> _Rows:
    """Read ``path`` as CSV for ``kind``; raises :class:`ImportFailed` for unreadable files
    and for headers that lack required columns or carry unknown ones."""
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFailed([ImportProblem(name, 0, "", "", f"cannot read the file: {exc.strerror}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ImportFailed([ImportProblem(name, 0, "", "", f"the file is larger than {MAX_FILE_BYTES} bytes")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed([ImportProblem(name, text_row(raw, exc.start), "", "",
                                          "the file is not UTF-8 text; save it as CSV UTF-8")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportFailed([ImportProblem(name, 1, "", "", "the file is empty")]) from None
    except csv.Error as exc:
        raise ImportFailed([ImportProblem(name, 1, "", "", f"not a CSV file: {exc}")]) from None
    problems = [ImportProblem(name, 1, col, "", "required column is missing")
                for col in REQUIRED[kind] if col not in header]
    problems += [ImportProblem(name, 1, col, "", f"unknown column; expected columns are {', '.join(COLUMNS[kind])}")
                 for col in header if col not in COLUMNS[kind]]
    if problems:
        raise ImportFailed(problems)
    rows = _Rows(name, [])
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                rows.problem(line, "", "", f"has {len(cells)} fields, the header has {len(header)}")
                continue
            data = {h: c.strip() for h, c in zip(header, cells)}
            for col in REQUIRED[kind]:
                if not data.get(col):
                    rows.problem(line, col, "", "a value is required")
            rows.rows.append((line, data))
    except csv.Error as exc:
        rows.problem(reader.line_num, "", "", f"not valid CSV: {exc}")
    return rows


def text_row(raw: bytes, offset: int) -> int:
    return raw[:offset].count(b"\n") + 1


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a date in the form YYYY-MM-DD") from None


def _positive_money(value: str) -> Decimal:
    amount = to_money(value)
    if amount < 0:
        raise ValueError("amount must not be negative")
    return amount


def import_file(session: Session, kind: str, path: Path) -> ImportResult:
    """Import ``path`` as ``kind`` (one of :data:`KINDS`) in one transaction.

    Returns counts of added, updated and unchanged records. Raises
    :class:`ImportFailed` with every problem found; then nothing was written.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    rows = read_csv(Path(path), kind)
    importer = {"members": _members, "gl-accounts": _gl_accounts, "invoices": _sales(Invoice, InvoiceLine),
                "credit-memos": _sales(CreditMemo, CreditMemoLine), "payments": _payments}[kind]
    result = ImportResult(kind, Path(path).name)
    try:
        importer(session, rows, result)
        if rows.problems:
            raise ImportFailed(rows.problems)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _apply_fields(record: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(record, key) != value:
            setattr(record, key, value)
            changed = True
    return changed


def _count(result: ImportResult, is_new: bool, changed: bool) -> None:
    if is_new:
        result.added += 1
    elif changed:
        result.updated += 1
    else:
        result.unchanged += 1


def _by_number(session: Session, model: Any, numbers: Iterable[str]) -> dict[str, Any]:
    numbers = list(set(numbers))
    out: dict[str, Any] = {}
    for start in range(0, len(numbers), 500):
        chunk = numbers[start:start + 500]
        out.update({r.number: r for r in session.scalars(select(model).where(model.number.in_(chunk)))})
    return out


def _duplicates(rows: _Rows) -> None:
    seen: dict[str, int] = {}
    for line, data in rows.rows:
        number = data.get("number", "")
        if number in seen:
            rows.problem(line, "number", number, f"the number appears again (first on row {seen[number]})")
        else:
            seen[number] = line


def _members(session: Session, rows: _Rows, result: ImportResult) -> None:
    _duplicates(rows)
    existing = _by_number(session, Member, (d["number"] for _, d in rows.rows))
    for line, data in rows.rows:
        status = (data.get("status") or "active").lower()
        if status not in ("active", "inactive"):
            rows.problem(line, "status", data.get("status", ""), "must be active or inactive")
        values = {c: data.get(c, "") for c in COLUMNS["members"] if c not in ("number", "status")}
        values["status"] = status
        if "qb_customer" not in data and data["number"] in existing:
            values.pop("qb_customer")
        member = existing.get(data["number"])
        is_new = member is None
        if is_new:
            member = Member(number=data["number"])
            session.add(member)
        _count(result, is_new, _apply_fields(member, values))


def _gl_accounts(session: Session, rows: _Rows, result: ImportResult) -> None:
    _duplicates(rows)
    existing = _by_number(session, GLAccount, (d["number"] for _, d in rows.rows))
    for line, data in rows.rows:
        if data.get("type") and data["type"] not in GL_TYPES:
            rows.problem(line, "type", data["type"], f"must be one of {', '.join(GL_TYPES)}")
        values = {"name": data["name"], "type": data.get("type", "")}
        if "qb_account" in data:
            values["qb_account"] = data["qb_account"]
        account = existing.get(data["number"])
        is_new = account is None
        if is_new:
            account = GLAccount(number=data["number"])
            session.add(account)
        _count(result, is_new, _apply_fields(account, values))


def _group(rows: _Rows, header_cols: tuple[str, ...]) -> dict[str, list[tuple[int, dict[str, str]]]]:
    """Group rows by number; rows of one record must be consecutive and repeat the same header values."""
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    previous = None
    for line, data in rows.rows:
        group = groups.setdefault(data["number"], [])
        if group:
            first_line, first = group[0]
            if previous != data["number"]:
                rows.problem(line, "number", data["number"],
                             f"rows of one record must be consecutive (the record starts on row {first_line})")
            for col in header_cols:
                if data.get(col, "") != first.get(col, ""):
                    rows.problem(line, col, data.get(col, ""),
                                 f"differs from row {first_line} of the same record ({first.get(col, '')!r})")
        group.append((line, data))
        previous = data["number"]
    return groups


def _line_amounts(rows: _Rows, line: int, data: dict[str, str]) -> tuple[Decimal, Decimal, Decimal]:
    qty = rows.get(line, data, "quantity", quantity, Decimal(1))
    rate = rows.get(line, data, "rate", quantity)
    amount = rows.get(line, data, "amount", to_money)
    if amount is None and rate is None:
        rows.problem(line, "amount", "", "a line needs an amount or a rate")
        return qty, Decimal("0"), Decimal("0.00")
    if amount is None:
        amount = (qty * rate).quantize(Decimal("0.01"))
    if rate is None:
        rate = (amount / qty).quantize(Decimal("0.00001")) if qty else amount
    return qty, rate, amount


def _sales(model: Any, line_model: Any) -> Callable[[Session, _Rows, ImportResult], None]:
    def run(session: Session, rows: _Rows, result: ImportResult) -> None:
        groups = _group(rows, ("member", "date", "due_date", "memo"))
        members = _by_number(session, Member, (g[0][1]["member"] for g in groups.values()))
        accounts = _by_number(session, GLAccount, (d.get("gl_account", "") for _, d in rows.rows))
        existing = _by_number(session, model, groups)
        for number, group in groups.items():
            first_line, first = group[0]
            if len(number) > 30:
                rows.problem(first_line, "number", number, "is longer than 30 characters")
            member = members.get(first["member"])
            if member is None:
                rows.problem(first_line, "member", first["member"], "no member has this number")
            date = rows.get(first_line, first, "date", _date)
            due = rows.get(first_line, first, "due_date", _date)
            lines = []
            for seq, (line, data) in enumerate(group, 1):
                account = accounts.get(data["gl_account"])
                if account is None and data["gl_account"]:
                    rows.problem(line, "gl_account", data["gl_account"], "no G/L account has this number")
                qty, rate, amount = _line_amounts(rows, line, data)
                lines.append((seq, account, data.get("description", ""), qty, rate, amount))
            if rows.problems or member is None or date is None:
                continue
            record = existing.get(number)
            is_new = record is None
            if is_new:
                record = model(number=number)
                session.add(record)
            new_lines = [(a.id, d, q, r, m) for _, a, d, q, r, m in lines]
            old_lines = [(ln.gl_account_id, ln.description, ln.quantity, ln.rate, ln.amount) for ln in record.lines]
            changed = _apply_fields(record, {"member": member, "date": date, "due_date": due,
                                             "memo": first.get("memo", "")})
            if new_lines != old_lines:
                record.lines.clear()
                session.flush()
                for seq, account, desc, qty, rate, amount in lines:
                    record.lines.append(line_model(seq=seq, gl_account=account, description=desc, quantity=qty,
                                                   rate=rate, amount=amount))
                changed = True
            if changed and not is_new:
                record.updated_at = _now()
            _count(result, is_new, changed)
    return run


def _payments(session: Session, rows: _Rows, result: ImportResult) -> None:
    groups = _group(rows, ("member", "date", "amount", "method", "reference", "deposit_account", "memo"))
    members = _by_number(session, Member, (g[0][1]["member"] for g in groups.values()))
    accounts = _by_number(session, GLAccount, (g[0][1]["deposit_account"] for g in groups.values()))
    invoices = _by_number(session, Invoice, (d.get("apply_to", "") for _, d in rows.rows))
    memos = _by_number(session, CreditMemo, (d.get("apply_credit_memo", "") for _, d in rows.rows))
    existing = _by_number(session, Payment, groups)
    for number, group in groups.items():
        first_line, first = group[0]
        member = members.get(first["member"])
        if member is None:
            rows.problem(first_line, "member", first["member"], "no member has this number")
        account = accounts.get(first["deposit_account"])
        if account is None and first["deposit_account"]:
            rows.problem(first_line, "deposit_account", first["deposit_account"], "no G/L account has this number")
        date = rows.get(first_line, first, "date", _date)
        amount = rows.get(first_line, first, "amount", _positive_money, Decimal("0.00"))
        apps = []
        for seq, (line, data) in enumerate(group, 1):
            if not data.get("apply_to"):
                if data.get("apply_amount") or data.get("apply_credit_memo"):
                    rows.problem(line, "apply_to", "", "an application needs the invoice it applies to")
                continue
            invoice = invoices.get(data["apply_to"])
            if invoice is None:
                rows.problem(line, "apply_to", data["apply_to"], "no invoice has this number")
            elif member is not None and invoice.member_id != member.id:
                rows.problem(line, "apply_to", data["apply_to"],
                             f"the invoice belongs to member {invoice.member.number}, not {member.number}")
            cash = rows.get(line, data, "apply_amount", _positive_money, Decimal("0.00"))
            memo = None
            if data.get("apply_credit_memo"):
                memo = memos.get(data["apply_credit_memo"])
                if memo is None:
                    rows.problem(line, "apply_credit_memo", data["apply_credit_memo"], "no credit memo has this number")
            credit = rows.get(line, data, "apply_credit_amount", _positive_money, Decimal("0.00"))
            apps.append((seq, invoice, cash, memo, credit))
        if sum((a[2] for a in apps), Decimal("0.00")) > amount:
            rows.problem(first_line, "apply_amount", "", f"the amounts applied exceed the payment's amount {amount}")
        if rows.problems or member is None or account is None or date is None:
            continue
        record = existing.get(number)
        is_new = record is None
        if is_new:
            record = Payment(number=number)
            session.add(record)
        changed = _apply_fields(record, {
            "member": member, "date": date, "amount": amount, "method": first.get("method", ""),
            "reference": first.get("reference", ""), "deposit_account": account, "memo": first.get("memo", "")})
        new_apps = [(i.id, c, m.id if m else None, cr) for _, i, c, m, cr in apps]
        old_apps = [(a.invoice_id, a.amount, a.credit_memo_id, a.credit_amount) for a in record.applications]
        if new_apps != old_apps:
            record.applications.clear()
            session.flush()
            for seq, invoice, cash, memo, credit in apps:
                record.applications.append(Application(seq=seq, invoice=invoice, amount=cash, credit_memo=memo,
                                                       credit_amount=credit))
            changed = True
        if changed and not is_new:
            record.updated_at = _now()
        _count(result, is_new, changed)
