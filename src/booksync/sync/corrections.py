"""Planning corrections: transactions and customers already in QuickBooks that changed,
were voided or were deleted in the billing store.

Rules (reference/quickbooks-desktop.md §5, §6, §8; DESIGN.md step 4):

* a changed invoice or credit memo becomes InvoiceMod / CreditMemoMod with all its lines
  (every line not listed is deleted by QuickBooks, so all are sent, as new lines);
* a voided invoice or credit memo becomes TxnVoid; a deleted one TxnDel;
* a changed payment becomes ReceivePaymentMod; a deleted payment TxnDel (a payment
  cannot be voided through qbXML);
* a member whose name, address or contact changed becomes CustomerMod; a new name
  QuickBooks already uses stops the run before anything is written;
* every Mod carries the EditSequence QuickBooks has now; when it differs from the one
  booksync recorded, the transaction was edited in QuickBooks: a conflict;
* a payment applied to an invoice or credit memo that changes is first released
  (its applications to them removed), and applied again after the change, so that
  QuickBooks never sees an invoice smaller than what was paid on it (status 3210);
* a correction dated on or before the closing date is refused by QuickBooks (3171):
  by default the run stops; with the "adjust" policy the closed transaction is left
  alone and the difference is posted today as an invoice or credit memo.
"""
from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from booksync.domain import (PLACEHOLDER_MEMO, Action, placeholder_payment, ApplicationData, Correction, DepositData, DepositLineData, Kind, LineData,
                      PaymentData, Problem, Ref, SalesData)
from booksync.fields import cut
from booksync.sync.labels import customer_name, member_label
from booksync.sync.planner import Planner
from booksync.sync.written import external_guid, fingerprint, written_json

# The web interface's words for the choices the command line makes with flags (the dashboard's "Options for
# corrections", web/templates/dashboard.html): a problem's web remedy names these, never a flag.
WEB_CONFLICT = ("decide under \"Options for corrections\" on the dashboard: \"Overwrite it with the billing store's "
                "version\" (the billing store wins) or \"Skip it\" (leave QuickBooks' version), then synchronize again")
WEB_ADJUST = ("choose \"Post the difference today as an adjustment\" under \"Options for corrections\" on the "
              "dashboard and synchronize again, or ask the accountant to move the closing date")
WEB_DEPOSITS = ("tick \"Correct deposited payments even when the deposit's total changes\" under \"Options for "
                "corrections\" on the dashboard, then synchronize again")


@dataclass
class CorrectionPolicy:
    """How to treat corrections the user must decide about.

    Attributes:
        on_conflict: "stop" (default), "overwrite" (the billing store wins) or "skip".
        closed_period: "stop" (default) or "adjust".
        period: length of an accounting period: "month" (default), "quarter" or "year".
        fiscal_year_start: first month of the fiscal year, 1–12.
        today: the date of the run (adjustments are dated today).
        allow_deposit_changes: correct deposited payments even when the deposit's total changes.
    """

    on_conflict: str = "stop"
    closed_period: str = "stop"
    allow_deposit_changes: bool = False
    period: str = "month"
    fiscal_year_start: int = 1
    today: dt.date = field(default_factory=dt.date.today)
    prepared_by: str = ""
    """Who prepares the run, for the Corrections Log: BOOKSYNC_PREPARED_BY, ``[corrections] prepared_by``, or the
    operating system's user."""

    def period_start(self) -> dt.date:
        """First day of the current accounting period."""
        today = self.today
        if self.period == "month":
            return today.replace(day=1)
        months = {"quarter": 3, "year": 12}[self.period]
        offset = (today.month - self.fiscal_year_start) % 12
        start_month_index = today.month - offset % months
        year = today.year
        while start_month_index < 1:
            start_month_index += 12
            year -= 1
        return dt.date(year, start_month_index, 1)


def correction_policy(settings: dict[str, Any], on_conflict: str | None = None, closed_period: str | None = None,
                      allow_deposit_changes: bool = False) -> CorrectionPolicy:
    """The policy from the caller's choices (command line flags, web form), else the home's
    ``[corrections]`` settings. BOOKSYNC_TODAY (YYYY-MM-DD) sets the run's date, for rehearsals.
    Raises ValueError for a BOOKSYNC_TODAY that is not a date."""
    cfg = settings.get("corrections", {})
    today = os.environ.get("BOOKSYNC_TODAY")
    return CorrectionPolicy(on_conflict=on_conflict or cfg.get("on_conflict", "stop"),
                            closed_period=closed_period or cfg.get("closed_period", "stop"),
                            period=cfg.get("period", "month"), fiscal_year_start=int(cfg.get("fiscal_year_start", 1)),
                            today=dt.date.fromisoformat(today) if today else dt.date.today(),
                            allow_deposit_changes=allow_deposit_changes
                            or bool(cfg.get("allow_deposit_changes", False)),
                            prepared_by=os.environ.get("BOOKSYNC_PREPARED_BY") or str(cfg.get("prepared_by") or "")
                            or _os_user())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this user id (a container)
        return "unknown user"


@dataclass
class Remote:
    """The version of a linked record QuickBooks has now."""

    edit_sequence: str
    total: Decimal | None = None
    date: str = ""
    exists: bool = True


def describe_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Human lines "field: before -> after" between two canonical payloads."""
    out = []
    labels = {"customer": "member", "date": "date", "ref_number": "number", "memo": "memo", "total": "amount",
              "due_date": "due date", "deposit_to": "deposit account", "method": "payment method",
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


def _total(payload: dict[str, Any]) -> Decimal:
    if "total" in payload:
        return Decimal(payload["total"])
    return sum((Decimal(ln["amount"]) for ln in payload.get("lines") or []), Decimal("0.00"))


class CorrectionPlanner(Planner):
    """The planner with corrections: see the module docstring.

    Extra inputs: ``remote`` (kind, local_id) → :class:`Remote` for every linked record to
    correct, and ``policy``.
    """

    def __init__(self, *args: Any, remote: dict[tuple[str, int], Remote], policy: CorrectionPolicy,
                 deposits: dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.remote = remote
        self.policy = policy
        self.deposits = deposits or {}
        """QuickBooks deposits by the TxnID of each payment they hold (or hold the place of)."""
        self._deposit_notes: dict[int, tuple[str, str, bool]] = {}
        """payment id → (action prefix, note for the Corrections Log, put back into its deposit)."""
        self.skipped: list[str] = []
        self._corrections_of_sales: list[tuple] = []
        self._payloads: dict[int, PaymentData] = {}

    # -- the order of a plan with corrections

    def build(self, create_customers: bool) -> Any:
        if create_customers:
            self._plan_customers()
        self._plan_customer_mods()
        self._plan_items()
        self._plan_methods()
        self._corrections_of_sales = self._sales_corrections()
        releases = self._payments_to_release()
        after_deposits = self._deposits_before(releases)
        for payment in sorted(self.work.deleted_payments, key=lambda p: p.number):
            self._plan_payment_delete(payment)
        for payment in releases:
            self._plan_release(payment)
        self.plan_sales_adds()
        for item in self._corrections_of_sales:
            self._emit_sales_correction(*item)
        self.plan_payment_adds()
        final = {p.id: p for p in self.work.changed_payments}
        final.update({p.id: p for p in releases})
        for payment in sorted(final.values(), key=lambda p: (p.date, p.number)):
            self._plan_payment_mod(payment, released=payment.id in {r.id for r in releases})
        for step in after_deposits:
            step()
        return self.plan

    # -- new transactions dated in a closed period

    def _plan_sales(self, kind: Kind, record: Any) -> None:
        if self._closed_add(kind, record):
            return
        super()._plan_sales(kind, record)

    def _plan_payment(self, payment: Any) -> None:
        if self._closed_add(Kind.PAYMENT, payment):
            return
        super()._plan_payment(payment)

    def _closed_add(self, kind: Kind, record: Any) -> bool:
        """QuickBooks refuses a new transaction dated on or before the closing date (3171): say so before
        anything is written. Returns True when the record must not be added in this run."""
        closing = self.snapshot.company.closing_date
        if closing is None or record.date > closing:
            return False
        member = self.work.members[record.member_id]
        self.problems.append(Problem(
            "closed-period", f"{kind.label} {record.number} for {member.name}, dated {record.date}",
            f"is new, and dated on or before QuickBooks' closing date ({closing}); QuickBooks refuses it",
            "date it after the closing date in the billing store, or ask the accountant to move the closing date",
            "date it after the closing date in the billing store, or ask the accountant to move the closing date"))
        return True

    # -- helpers

    def _flags(self, *dates: Any) -> tuple[bool, bool]:
        ds = [d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for d in dates if d]
        closing = self.snapshot.company.closing_date
        past = any(d < self.policy.period_start() for d in ds)
        closed = closing is not None and any(d <= closing for d in ds)
        return past, closed

    def _check_version(self, kind: Kind, local_id: int, number: str, label: str) -> tuple[bool, str, str]:
        """Return (go ahead, EditSequence to send, note). Records conflicts as problems or skips."""
        link = self.work.links[(kind.value, local_id)]
        remote = self.remote.get((kind.value, local_id))
        if remote is None or not remote.exists:
            self.problems.append(Problem(
                "deleted-in-quickbooks", label,
                f"was deleted in QuickBooks after booksync wrote it (TxnID/ListID {link.remote_id})",
                "restore it in QuickBooks, or unlink it so booksync writes it again: booksync runs show",
                "restore it in QuickBooks, or unlink it so booksync writes it again"))
            return False, "", ""
        if remote.edit_sequence == link.edit_sequence or not link.edit_sequence:
            return True, remote.edit_sequence, ""
        detail = (f"edited in QuickBooks after booksync wrote it (EditSequence {link.edit_sequence} when written, "
                  f"{remote.edit_sequence} now")
        if remote.total is not None:
            detail += f"; QuickBooks now has amount {remote.total}, date {remote.date}"
        detail += ")"
        if self.policy.on_conflict == "overwrite":
            return True, remote.edit_sequence, "Conflict: " + detail + "; overwritten with the billing store's version."
        if self.policy.on_conflict == "skip":
            self.skipped.append(label)
            return False, "", ""
        self.problems.append(Problem("conflict", label, "was " + detail,
                                     "decide: --on-conflict=overwrite (the billing store wins) or "
                                     "--on-conflict=skip (leave QuickBooks' version)",
                                     WEB_CONFLICT))
        return False, "", ""

    # -- customers

    def _plan_customer_mods(self) -> None:
        lim = self.limits
        in_use = self.snapshot.names_in_use()
        for member in sorted(self.work.changed_members, key=lambda m: m.number):
            link = self.work.links[(Kind.CUSTOMER.value, member.id)]
            label = member_label(member)
            before = json.loads(link.written) if link.written else {}
            # The same stand-in as when the customer was added, should nothing of the new name be storable.
            name = customer_name(self.fit, member, lim)
            old_name = before.get("name") or link.qb_name
            tail = f" ({member.number})"
            same_name = {name.casefold(), (cut(name, lim.customer_name - len(tail)) + tail).casefold()}
            if not before:
                name = link.qb_name or name  # linked by hand: the customer keeps its QuickBooks name
            elif (old_name or "").casefold() not in same_name:
                holder = in_use.get(name.casefold())
                if holder is not None and holder != link.remote_id:
                    self.problems.append(Problem(
                        "rename-taken", label,
                        f"is renamed to \"{name}\", which QuickBooks already uses for another customer, vendor "
                        "or other name", "choose another name for the member, or rename the other record in "
                        "QuickBooks first", "choose another name for the member, or rename the other record in "
                        "QuickBooks first"))
                    continue
            else:
                name = link.qb_name or name
            data = self.customer_data(member, name)
            if before and fingerprint(data) == link.fingerprint:
                continue
            ok, version, note = self._check_version(Kind.CUSTOMER, member.id, member.number, label)
            if not ok:
                continue
            after = json.loads(written_json(data))
            changes = describe_changes(before, after) if before else ["customer details updated"]
            self.plan.add(action=Action.MOD, kind=Kind.CUSTOMER, local_id=member.id, number=member.number,
                          description=f"Update customer \"{name}\" for {label}", payload=data,
                          remote_id=link.remote_id, edit_sequence=version, fingerprint=fingerprint(data))
            self.plan.corrections.append(Correction("Customer", member.number, f"{member.number} {member.name}",
                                                    None, changes, "customer details changed", note=note))


    # -- invoices and credit memos

    def _sales_corrections(self) -> list[tuple]:
        """Decide each changed invoice/credit memo; returns what to emit after the adds."""
        out = []
        for kind, records in ((Kind.INVOICE, self.work.changed_invoices),
                              (Kind.CREDIT_MEMO, self.work.changed_credit_memos)):
            for record in sorted(records, key=lambda r: (r.date, r.number)):
                link = self.work.links[(kind.value, record.id)]
                label = f"{kind.label} {record.number}"
                before = json.loads(link.written) if link.written else {}
                member = self.work.members[record.member_id]
                if record.status == "open":
                    data = self.sales_data(kind, record)
                    if fingerprint(data) == link.fingerprint:
                        continue
                    action, after = Action.MOD, json.loads(written_json(data))
                else:
                    data, after = None, {}
                    action = Action.VOID if record.status == "void" else Action.DELETE
                past, closed = self._flags(before.get("date"), record.date if record.status == "open" else None)
                if closed:
                    if self.policy.closed_period != "adjust":
                        self.problems.append(Problem(
                            "closed-period", f"{label} for {member.name}, dated {before.get('date')}",
                            f"is dated on or before QuickBooks' closing date ({self.snapshot.company.closing_date}); "
                            "QuickBooks refuses to change it",
                            "use --closed-period-policy=adjust to post the difference in the current period, or ask "
                            "the accountant to move the closing date", WEB_ADJUST))
                        continue
                    out.append(("adjust", kind, record, link, before, data, after, member))
                    continue
                ok, version, note = self._check_version(kind, record.id, record.number, label)
                if not ok:
                    continue
                out.append(("correct", kind, record, link, before, data, after, member, action, version, note,
                            past))
        return out

    def touched_sales(self) -> set[tuple[str, int]]:
        """Invoices and credit memos whose correction must not find payments applied to them."""
        return {(item[1].value, item[2].id) for item in self._corrections_of_sales if item[0] == "correct"}

    def _emit_sales_correction(self, mode: str, kind: Kind, record: Any, link: Any, before: dict, data: Any,
                               after: dict, member: Any, *rest: Any) -> None:
        txn_name = "Invoice" if kind is Kind.INVOICE else "CreditMemo"
        label = "Invoice" if kind is Kind.INVOICE else "Credit memo"
        if mode == "adjust":
            self._emit_adjustment(kind, record, link, before, data, after, member)
            return
        action, version, note, past = rest
        amount_after = data.total if data is not None else Decimal("0.00")
        if action is Action.MOD:
            changes = describe_changes(before, after)
            qb_action = "changed"
            description = f"Correct {kind.label} {record.number} for {member.name}: {', '.join(changes)}"
        else:
            changes = [f"status: open -> {'void' if action is Action.VOID else 'deleted'}",
                       f"amount: {_total(before)} -> 0.00"]
            qb_action = "voided" if action is Action.VOID else "deleted"
            description = f"{'Void' if action is Action.VOID else 'Delete'} {kind.label} {record.number} for " \
                          f"{member.name}"
        self.plan.add(action=action, kind=kind, local_id=record.id, number=record.number, description=description,
                      payload=data, remote_id=link.remote_id, edit_sequence=version,
                      fingerprint=fingerprint(data) if data is not None else action.value,
                      amount=amount_after, link_mode="full" if action is Action.MOD else
                      ("void" if action is Action.VOID else "deleted"))
        _, closed = self._flags(before.get("date"))
        self.plan.corrections.append(Correction(label, record.number, f"{member.number} {member.name}",
                                                record.date, changes, qb_action, past_period=past, closed=closed,
                                                note=note, amount_before=_total(before), amount_after=amount_after,
                                                accounts=_accounts(before, after)))

    def _emit_adjustment(self, kind: Kind, record: Any, link: Any, before: dict, data: Any, after: dict,
                         member: Any) -> None:
        """Leave the closed transaction alone; post the difference today (invoice and/or credit memo)."""
        sign = 1 if kind is Kind.INVOICE else -1
        old = {}
        for ln in before.get("lines") or []:
            old[ln["item"]["id"]] = old.get(ln["item"]["id"], Decimal("0")) + Decimal(ln["amount"])
        new = {}
        for ln in (data.lines if data is not None else ()):
            new[ln.item.local_id] = new.get(ln.item.local_id, Decimal("0")) + ln.amount
        diffs = {gl: sign * (new.get(gl, Decimal("0")) - old.get(gl, Decimal("0"))) for gl in set(old) | set(new)}
        label = "Invoice" if kind is Kind.INVOICE else "Credit memo"
        notes = []
        for doc_kind, wanted in ((Kind.INVOICE, 1), (Kind.CREDIT_MEMO, -1)):
            lines = []
            for gl_id, diff in sorted(diffs.items()):
                if diff * wanted > 0:
                    gl = self.work.gl_accounts[gl_id]
                    amount = (diff * wanted).quantize(Decimal("0.01"))
                    lines.append(LineData(self._item_ref(gl_id), f"Adjustment of {kind.label} {record.number} "
                                                                   f"({gl.number} {gl.name})",
                                          Decimal(1), amount, amount))
            if not lines:
                continue
            prefix = "A" if doc_kind is Kind.INVOICE else "C"
            ref = self.fit.ref_number(f"adjustment of {record.number}", "number", f"{prefix}{record.number}",
                                      self.limits.invoice_ref_number)
            related = (kind.value, record.id, fingerprint(data) if data is not None else
                       ("void" if record.status == "void" else "deleted"),
                       written_json(data) if data is not None else "")
            adj_id = _adjustment_id(self.company_key, kind, record.id, self.policy.today, doc_kind,
                                    f"{record.updated_at.isoformat()}/{related[2]}")
            payload = SalesData(customer=self.customer_ref(record.member_id), date=self.policy.today,
                                ref_number=ref, lines=tuple(lines),
                                memo=f"Adjustment of {kind.label} {record.number} dated {before.get('date')} "
                                     f"(closed period): posted in the current period",
                                external_guid=external_guid(self.company_key, doc_kind, adj_id))
            self.plan.add(action=Action.ADD, kind=doc_kind, local_id=adj_id, number=ref,
                          description=f"Adjustment {doc_kind.label} {ref} for {member.name}, {self.policy.today}, "
                                      f"{payload.total} (for closed {kind.label} {record.number})",
                          payload=payload, fingerprint=fingerprint(payload), amount=payload.total,
                          link_mode="adjustment", related=related)
            notes.append(f"{doc_kind.label} {ref} of {payload.total} dated {self.policy.today}")
        changes = describe_changes(before, after) if data is not None else [
            f"status: open -> {record.status}", f"amount: {_total(before)} -> 0.00"]
        self.plan.corrections.append(Correction(
            label, record.number, f"{member.number} {member.name}", record.date, changes,
            "Adjustment in the open period: " + ("; ".join(notes) or "nothing to post"),
            past_period=True, closed=True,
            note="The closed transaction was left unchanged in QuickBooks.",
            amount_before=_total(before), amount_after=data.total if data is not None else Decimal("0.00"),
            accounts=_accounts(before, after)))

    def _item_ref(self, gl_id: int) -> Ref:
        if gl_id not in self._items:
            raise KeyError(gl_id)
        return self._items[gl_id]

    # -- payments

    def _payments_to_release(self) -> list[Any]:
        touched = self.touched_sales()
        out = {}
        for payment in self.work.linked_payments_touching:
            link = self.work.links[(Kind.PAYMENT.value, payment.id)]
            written = json.loads(link.written) if link.written else {}
            if payment.status != "open":
                continue
            for app in written.get("applications") or []:
                keys = {(Kind.INVOICE.value, app["invoice"]["id"])}
                keys |= {(Kind.CREDIT_MEMO.value, c["credit_memo"]["id"]) for c in app.get("credits") or []}
                if keys & touched:
                    out[payment.id] = payment
        return sorted(out.values(), key=lambda p: (p.date, p.number))

    def _plan_payment_delete(self, payment: Any) -> None:
        link = self.work.links[(Kind.PAYMENT.value, payment.id)]
        before = json.loads(link.written) if link.written else {}
        label = f"payment {payment.number}"
        past, closed = self._flags(before.get("date"))
        member = self.work.members[payment.member_id]
        if closed:
            self.problems.append(Problem(
                "closed-period", f"{label} from {member.name}, dated {before.get('date')}",
                f"is dated on or before QuickBooks' closing date ({self.snapshot.company.closing_date}); QuickBooks "
                "refuses to delete it", "ask the accountant to move the closing date (payments are not adjusted)",
                "ask the accountant to move the closing date (payments are not adjusted)"))
            return
        ok, version, note = self._check_version(Kind.PAYMENT, payment.id, payment.number, label)
        if not ok:
            return
        self.plan.add(action=Action.DELETE, kind=Kind.PAYMENT, local_id=payment.id, number=payment.number,
                      description=f"Delete payment {payment.number} from {member.name}", remote_id=link.remote_id,
                      edit_sequence=version, fingerprint="deleted", link_mode="deleted", amount=Decimal("0.00"))
        self.plan.corrections.append(Correction(
            "Payment", payment.number, f"{member.number} {member.name}", payment.date,
            ["status: received -> deleted", f"amount: {before.get('total')} -> 0.00"],
            self._deposit_notes.get(payment.id, NO_DEPOSIT)[0] + "deleted",
            past_period=past, closed=closed, note=" ".join(x for x in (note, self._deposit_notes.get(
                payment.id, NO_DEPOSIT)[1]) if x), amount_before=Decimal(before.get("total") or "0"),
            amount_after=Decimal("0.00"), accounts=_accounts(before)))

    def _plan_release(self, payment: Any) -> None:
        """Remove the payment's applications to corrected invoices/credit memos for a moment."""
        link = self.work.links[(Kind.PAYMENT.value, payment.id)]
        written = json.loads(link.written)
        label = f"payment {payment.number}"
        before_date = written.get("date")
        _, closed = self._flags(before_date)
        if closed:
            self.problems.append(Problem(
                "closed-period", f"{label}, dated {before_date}",
                "applies to a transaction being corrected, and is dated on or before QuickBooks' closing date",
                "ask the accountant to move the closing date", "ask the accountant to move the closing date"))
            return
        ok, version, _ = self._check_version(Kind.PAYMENT, payment.id, payment.number, label)
        if not ok:
            return
        touched = self.touched_sales()
        kept = []
        first_touched = None
        for app in written.get("applications") or []:
            invoice_key = (Kind.INVOICE.value, app["invoice"]["id"])
            credits = [c for c in app.get("credits") or [] if (Kind.CREDIT_MEMO.value, c["credit_memo"]["id"])
                       not in touched]
            if invoice_key in touched or len(credits) != len(app.get("credits") or []):
                first_touched = first_touched or app
                continue
            kept.append(ApplicationData(self._ref_from(app["invoice"]), Decimal(app["amount"]), tuple(
                _credit(c, self._ref_from) for c in credits)))
        if not kept and first_touched is not None:
            # An empty AppliedToTxnMod list leaves applications as they are; 0.00 on one invoice clears them.
            kept = [ApplicationData(self._ref_from(first_touched["invoice"]), Decimal("0.00"))]
        data = self._payment_from_written(payment, written, tuple(kept))
        self.plan.add(action=Action.MOD, kind=Kind.PAYMENT, local_id=payment.id, number=payment.number,
                      description=f"Release payment {payment.number}'s applications before the corrections",
                      payload=data, remote_id=link.remote_id, edit_sequence=version, link_mode="version")

    def _ref_from(self, ref: dict) -> Ref:
        kind, local_id = ref["ref"], ref["id"]
        link = self.work.links.get((kind, local_id))
        return Ref(kind, local_id, link.remote_id if link is not None else None, ref.get("name", ""))

    def _payment_from_written(self, payment: Any, written: dict, apps: tuple) -> PaymentData:
        current = self.payment_data(payment)
        return PaymentData(customer=self._ref_from(written["customer"]),
                           date=dt.date.fromisoformat(written["date"]), ref_number=written.get("ref_number", ""),
                           total=Decimal(written["total"]), method=current.method, deposit_to=current.deposit_to,
                           memo=written.get("memo", ""), applications=apps, external_guid=current.external_guid)

    def _plan_payment_mod(self, payment: Any, released: bool) -> None:
        link = self.work.links[(Kind.PAYMENT.value, payment.id)]
        before = json.loads(link.written) if link.written else {}
        data = self._payment_payload(payment)
        changed = fingerprint(data) != link.fingerprint
        if not changed and not released:
            return
        label = f"payment {payment.number}"
        member = self.work.members[payment.member_id]
        past, closed = self._flags(before.get("date"), payment.date)
        if closed:
            self.problems.append(Problem(
                "closed-period", f"{label} from {member.name}, dated {before.get('date')}",
                f"is dated on or before QuickBooks' closing date ({self.snapshot.company.closing_date})",
                "ask the accountant to move the closing date (payments are not adjusted)",
                "ask the accountant to move the closing date (payments are not adjusted)"))
            return
        if released:
            version = ""  # the release's answer supplies it when the plan is applied
            note = ""
        else:
            ok, version, note = self._check_version(Kind.PAYMENT, payment.id, payment.number, label)
            if not ok:
                return
        after = json.loads(written_json(data))
        changes = describe_changes(before, after)
        self.plan.add(action=Action.MOD, kind=Kind.PAYMENT, local_id=payment.id, number=payment.number,
                      description=f"Correct payment {payment.number} from {member.name}"
                                  + (f": {', '.join(changes)}" if changes else " (applications re-applied)"),
                      payload=data, remote_id=link.remote_id, edit_sequence=version, fingerprint=fingerprint(data),
                      amount=payment.amount)
        if changed:
            self.plan.corrections.append(Correction(
                "Payment", payment.number, f"{member.number} {member.name}", payment.date, changes,
                self._deposit_notes.get(payment.id, NO_DEPOSIT)[0] + "changed"
                + (" (applications released first, then applied again)" if released else "")
                + (", put back into the deposit" if self._deposit_notes.get(payment.id, NO_DEPOSIT)[2]
                   else ""),
                past_period=past, closed=closed, note=" ".join(x for x in (note, self._deposit_notes.get(
                    payment.id, NO_DEPOSIT)[1]) if x), amount_before=Decimal(before.get("total") or "0"),
                amount_after=payment.amount, accounts=_accounts(before, after)))


    # -- deposits (issue 17: deposited payments)

    def _corrected_payments(self, releases: list[Any]) -> dict[int, Any]:
        """The payments this plan changes or deletes in QuickBooks, by id: only they leave their deposit.

        A changed payment whose payload is the one written (an edit made and undone, a memo set to the value it
        had) changes nothing QuickBooks holds and stays where it is; so does a conflict the policy skips."""
        out: dict[int, Any] = {p.id: p for p in self.work.deleted_payments}
        for payment in self.work.changed_payments:
            link = self.work.links.get((Kind.PAYMENT.value, payment.id))
            if link is not None and (link.fingerprint == "released"
                                     or fingerprint(self._payment_payload(payment)) != link.fingerprint):
                out[payment.id] = payment
        out.update({p.id: p for p in releases})
        return {pid: p for pid, p in out.items() if not self._skipped_conflict(p)}

    def _payment_payload(self, payment: Any) -> PaymentData:
        """:meth:`payment_data`, once per payment (the fitting of its fields is recorded once)."""
        data = self._payloads.get(payment.id)
        if data is None:
            data = self._payloads[payment.id] = self.payment_data(payment)
        return data

    def _skipped_conflict(self, payment: Any) -> bool:
        """True when the payment was edited in QuickBooks and the policy leaves QuickBooks' version."""
        link = self.work.links.get((Kind.PAYMENT.value, payment.id))
        remote = self.remote.get((Kind.PAYMENT.value, payment.id))
        return (self.policy.on_conflict == "skip" and link is not None and remote is not None and remote.exists
                and bool(link.edit_sequence) and remote.edit_sequence != link.edit_sequence)

    def _deposits_before(self, releases: list[Any]) -> list[Any]:
        """Take corrected payments out of their deposits, each replaced by a line of the same amount
        so that the deposit's total does not move; return the steps that put them back afterwards.

        A payment booksync left out of its deposit behind such a line (an interrupted or refused run; the
        line is found by its memo) is put back too. A deposit whose total would change at the end (an amount
        changed, a payment deleted or no longer deposited through Undeposited Funds) stops the run unless
        deposit changes are allowed.
        """
        affected: dict[str, dict[int, Any]] = {}
        deposits = {d.txn_id: d for d in self.deposits.values()}
        linked = self._linked_payments()
        for payment in self._corrected_payments(releases).values():
            link = self.work.links.get((Kind.PAYMENT.value, payment.id))
            deposit = self.deposits.get(link.remote_id) if link is not None else None
            if deposit is not None:
                affected.setdefault(deposit.txn_id, {})[payment.id] = payment
        for deposit in deposits.values():
            for line in deposit.lines:
                payment = linked.get(placeholder_payment(line.memo))
                if payment is not None:
                    # A line left by an interrupted run: the payment it stands for goes back in now.
                    affected.setdefault(deposit.txn_id, {})[payment.id] = payment
        steps = []
        for txn_id, members in affected.items():
            step = self._deposit_plan(deposits[txn_id], members)
            if step is not None:
                steps.append(step)
        return steps

    def _linked_payments(self) -> dict[str, Any]:
        """Every payment the run loaded that booksync wrote, by its TxnID."""
        out = {}
        for p in (self.work.linked_payments_touching + self.work.changed_payments + self.work.deleted_payments
                  + self.work.held_payments):
            link = self.work.links.get((Kind.PAYMENT.value, p.id))
            if link is not None and link.remote_id:
                out[link.remote_id] = p
        return out

    def _deposit_plan(self, deposit: Any, payments: dict[int, Any]) -> Any:
        uf = next((a for a in self.snapshot.accounts if a.special == "UndepositedFunds"), None)
        remote_of = {pid: self.work.links[(Kind.PAYMENT.value, pid)].remote_id for pid in payments}
        affected_ids = set(remote_of.values())
        # Every other line stays as it is, by its line id (a placeholder of a payment booksync does not know too).
        keep = [ln for ln in deposit.lines
                if ln.payment_id not in affected_ids and placeholder_payment(ln.memo) not in affected_ids]
        held = {ln.payment_id or placeholder_payment(ln.memo): ln.amount for ln in deposit.lines
                if (ln.payment_id or placeholder_payment(ln.memo)) in affected_ids}
        back: list[tuple[Any, Decimal]] = []
        for pid, payment in payments.items():
            gl = self.work.gl_accounts[payment.deposit_account_id]
            target = self._accounts.get((gl.qb_account or "").casefold())
            if payment.status == "open" and uf is not None and target is not None and target.list_id == uf.list_id:
                back.append((payment, payment.amount))
        new_total = sum((ln.amount for ln in keep), Decimal("0.00")) + sum((a for _, a in back), Decimal("0.00"))
        where = f"the deposit of {deposit.date} to {deposit.account_name}"
        changed = new_total != deposit.total
        if changed and not self.policy.allow_deposit_changes:
            reported = len(self.problems)
            for pid, payment in payments.items():
                member = self.work.members[payment.member_id]
                only = len(deposit.lines) == 1
                steps = "in QuickBooks, " + ("delete the deposit (the payment is its only line)" if only else
                                             "remove the payment from the deposit")
                after = (", then deposit the payment again; a re-created deposit is no longer reconciled"
                         if payment.status == "open" else "; re-reconcile the deposit afterwards")
                went = next((a for p, a in back if p.id == pid), None)
                if payment.status != "open":
                    why = "deleting it"
                elif went is not None and went == held.get(remote_of[pid]):
                    continue  # this payment's own correction keeps the deposit's total
                else:
                    why = "correcting it"
                self.problems.append(Problem(
                    "deposit-change", f"payment {payment.number} from {member.name}, {payment.date}",
                    f"is in {where} (total {deposit.total}); {why} would change the deposit's total to {new_total}, "
                    "and the deposit may already be reconciled",
                    steps + ", run 'booksync sync' again" + after + ". Or let booksync do it: --allow-deposit-changes",
                    steps + ", synchronize again" + after + ". Or let booksync do it: " + WEB_DEPOSITS))
            if len(self.problems) == reported:
                self.problems.append(Problem(
                    "deposit-change", where, f"would change from {deposit.total} to {new_total} when booksync puts "
                    f"payment(s) {', '.join(p.number for p in payments.values())} back",
                    "check the deposit in QuickBooks, or let booksync do it: --allow-deposit-changes",
                    "check the deposit in QuickBooks, or let booksync do it: " + WEB_DEPOSITS))
            return None
        if uf is None:
            return None
        lines = [DepositLineData(ln.line_id) for ln in deposit.lines if ln.payment_id not in affected_ids]
        for pid, payment in payments.items():
            old = next((ln for ln in deposit.lines if ln.payment_id == remote_of[pid]), None)
            if old is not None:
                lines.append(DepositLineData("-1", entity=self.customer_ref(payment.member_id),
                                             account=Ref("account", None, uf.list_id), amount=old.amount,
                                             memo=PLACEHOLDER_MEMO.format(txn_id=remote_of[pid])))
        names = ", ".join(p.number for p in payments.values())
        if any(ln.payment_id in affected_ids for ln in deposit.lines):
            self.plan.add(action=Action.MOD, kind=Kind.DEPOSIT, local_id=_deposit_local_id(deposit.txn_id),
                          number=f"deposit {deposit.date}",
                          description=f"Take payment(s) {names} out of {where}; a line of the same amount keeps its "
                                      f"total at {deposit.total}",
                          payload=DepositData(tuple(lines)), remote_id=deposit.txn_id,
                          edit_sequence=deposit.edit_sequence, link_mode="deposit")
        if not changed:
            note = f"Taken out of {where} and put back; the deposit's total and account are unchanged."
        elif new_total == 0 and not keep and not back:
            note = (f"The deposit of {deposit.date} to {deposit.account_name} ({deposit.total}) was deleted: no "
                    "payment was left in it; re-reconcile the bank account for that date.")
        else:
            note = (f"The deposit of {deposit.date} to {deposit.account_name} changed from {deposit.total} to "
                    f"{new_total}; re-reconcile this deposit.")
        put_back = {p.id for p, _ in back}
        for pid in payments:
            self._deposit_notes[pid] = ("taken out of the deposit, ", note, pid in put_back)

        def after() -> None:
            # The version read now: when this plan takes the payments out first, the engine sends the
            # EditSequence that take-out returned instead (a later message: Run.versions).
            final = [DepositLineData(ln.line_id) for ln in keep]
            final += [DepositLineData("-1", payment=Ref(Kind.PAYMENT.value, p.id, remote_of[p.id], p.number))
                      for p, _ in back]
            if final:
                self.plan.add(action=Action.MOD, kind=Kind.DEPOSIT, local_id=_deposit_local_id(deposit.txn_id),
                              number=f"deposit {deposit.date}",
                              description=f"Put payment(s) {', '.join(p.number for p, _ in back)} back into {where}; "
                                          f"its total is then {new_total}",
                              payload=DepositData(tuple(final)), remote_id=deposit.txn_id,
                              edit_sequence=deposit.edit_sequence, link_mode="deposit")
            else:
                self.plan.add(action=Action.DELETE, kind=Kind.DEPOSIT, local_id=_deposit_local_id(deposit.txn_id),
                              number=f"deposit {deposit.date}",
                              description=f"Delete {where}: no payment is left in it", remote_id=deposit.txn_id,
                              link_mode="deposit")  # its version is read just before it is sent
        return after


NO_DEPOSIT = ("", "", False)


def _accounts(*written: dict) -> tuple[str, ...]:
    """The G/L accounts written payloads post to, in order without repeats, for the Corrections Log: the items
    of invoice and credit memo lines (named after their G/L accounts) and a payment's deposit account."""
    names = []
    for payload in written:
        names += [(ln.get("item") or {}).get("name", "") for ln in payload.get("lines") or []]
        names.append((payload.get("deposit_to") or {}).get("name", ""))
    return tuple(dict.fromkeys(n for n in names if n))


def _deposit_local_id(txn_id: str) -> int:
    import hashlib

    return int(hashlib.sha256(txn_id.encode()).hexdigest()[:7], 16)


def _credit(c: dict, ref_from) -> Any:  # noqa: ANN001
    from booksync.domain import CreditData

    return CreditData(ref_from(c["credit_memo"]), Decimal(c["amount"]))


def _adjustment_id(company_key: str, kind: Kind, local_id: int, today: dt.date, doc_kind: Kind,
                   version: str) -> int:
    """The local id of an adjustment document: stable for one version of the original (``version``: its
    billing ``updated_at`` and fingerprint), so a run that settles an interrupted one finds it again;
    different for each further adjustment of the same original, even back to an earlier amount on the same
    day (each keeps its own link row, which reconcile counts, and its own ExternalGUID)."""
    import hashlib

    digest = hashlib.sha256(f"{company_key}/{kind.value}/{local_id}/{today}/{doc_kind.value}/{version}"
                            .encode()).hexdigest()
    return int(digest[:7], 16)
