"""Corrections of invoices, credit memos and sales receipts (a part of
:class:`booksync.sync.corrections.CorrectionPlanner`): a changed one becomes InvoiceMod / CreditMemoMod /
SalesReceiptMod with all its lines, a voided one TxnVoid, a deleted one TxnDel; one dated on or before the closing
date stops the run, or with the "adjust" policy (invoices and credit memos only) is left alone and the difference is
posted today as an invoice or credit memo (:meth:`SalesCorrections._emit_adjustment`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from booksync.domain import Action, Correction, Kind, LineData, Problem, Ref, SalesData, SalesReceiptData
from booksync.kinds import spec
from booksync.records import LinkRecord, MemberRecord, ReceiptRecord, SaleRecord
from booksync.sync.correct_deposits import NO_DEPOSIT
from booksync.sync.correction_words import WEB_ADJUST, accounts_of, describe_changes, total_of
from booksync.sync.written import external_guid, fingerprint, written_json


class SalesCorrections:
    """The corrections of invoices, credit memos and sales receipts; mixed into the corrections planner, whose
    state it uses."""

    def _sales_corrections(self) -> list[tuple]:
        """Decide each changed invoice/credit memo/sales receipt; returns what to emit after the adds."""
        out = []
        for kind, records in ((Kind.INVOICE, self.work.changed_invoices),
                              (Kind.CREDIT_MEMO, self.work.changed_credit_memos),
                              (Kind.SALES_RECEIPT, self.work.changed_receipts)):
            for record in sorted(records, key=lambda r: (r.date, r.number)):
                link = self.work.links[(kind.value, record.id)]
                label = f"{kind.label} {record.number}"
                before = json.loads(link.written) if link.written else {}
                member = self.work.members[record.member_id]
                if record.status == "open":
                    data = self._document_data(kind, record)
                    if fingerprint(data) == link.fingerprint:
                        continue
                    action, after = Action.MOD, json.loads(written_json(data))
                else:
                    data, after = None, {}
                    action = Action.VOID if record.status == "void" else Action.DELETE
                past, closed = self._flags(before.get("date"), record.date if record.status == "open" else None)
                if closed:
                    if self.policy.closed_period != "adjust" or kind is Kind.SALES_RECEIPT:
                        self.problems.append(self._closed_problem(kind, label, member, before))
                        continue
                    out.append(("adjust", kind, record, link, before, data, after, member))
                    continue
                ok, version, note = self._check_version(kind, record.id, record.number, label)
                if not ok:
                    continue
                out.append(("correct", kind, record, link, before, data, after, member, action, version, note,
                            past))
        return out

    def _closed_problem(self, kind: Kind, label: str, member: MemberRecord, before: dict) -> Problem:
        """A correction dated on or before the closing date. Money received is not adjusted by an invoice or a
        credit memo (they would move the member's balance): a sales receipt's correction there is the
        accountant's."""
        fix = ("use --closed-period-policy=adjust to post the difference in the current period, or ask the accountant "
               "to move the closing date")
        fix_web = WEB_ADJUST
        if kind is Kind.SALES_RECEIPT:
            fix = fix_web = ("ask the accountant to move the closing date, or to record the correction in the open "
                             "period in QuickBooks; then synchronize again")
        return Problem("closed-period", f"{label} for {member.name}, dated {before.get('date')}",
                       f"is dated on or before QuickBooks' closing date ({self.snapshot.company.closing_date}); "
                       "QuickBooks refuses to change it", fix, fix_web)

    def _document_data(self, kind: Kind, record: Any) -> SalesData | SalesReceiptData:
        return self.receipt_data(record) if kind is Kind.SALES_RECEIPT else self.sales_data(kind, record)

    def corrected_receipts(self) -> list[ReceiptRecord]:
        """The sales receipts this plan changes, voids or deletes in QuickBooks: only they leave their deposit."""
        return [item[2] for item in self._corrections_of_sales if item[0] == "correct" and item[1] is Kind.SALES_RECEIPT]

    def touched_sales(self) -> set[tuple[str, int]]:
        """Invoices and credit memos whose correction must not find payments applied to them."""
        return {(item[1].value, item[2].id) for item in self._corrections_of_sales if item[0] == "correct"}

    def _emit_sales_correction(self, mode: str, kind: Kind, record: SaleRecord | ReceiptRecord, link: LinkRecord,
                               before: dict, data: SalesData | SalesReceiptData | None, after: dict,
                               member: MemberRecord, *rest: Any) -> None:
        label = spec(kind).label.capitalize()
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
                       f"amount: {total_of(before)} -> 0.00"]
            qb_action = "voided" if action is Action.VOID else "deleted"
            description = f"{'Void' if action is Action.VOID else 'Delete'} {kind.label} {record.number} for " \
                          f"{member.name}"
        prefix, deposit_note, put_back = self._deposit_notes.get((kind.value, record.id), NO_DEPOSIT)
        qb_action = prefix + qb_action + (", put back into the deposit" if put_back else "")
        note = " ".join(x for x in (note, deposit_note) if x)
        self.plan.add(action=action, kind=kind, local_id=record.id, number=record.number, description=description,
                      payload=data, remote_id=link.remote_id, edit_sequence=version,
                      fingerprint=fingerprint(data) if data is not None else action.value,
                      amount=amount_after, link_mode="full" if action is Action.MOD else
                      ("void" if action is Action.VOID else "deleted"))
        _, closed = self._flags(before.get("date"))
        self.plan.corrections.append(Correction(label, record.number, f"{member.number} {member.name}",
                                                record.date, changes, qb_action, past_period=past, closed=closed,
                                                note=note, amount_before=total_of(before), amount_after=amount_after,
                                                accounts=accounts_of(before, after)))

    def _emit_adjustment(self, kind: Kind, record: SaleRecord, link: LinkRecord, before: dict, data: SalesData | None,
                         after: dict, member: MemberRecord) -> None:
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
                                          Decimal(1), amount, amount, class_ref=self.class_ref(gl_id)))
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
            f"status: open -> {record.status}", f"amount: {total_of(before)} -> 0.00"]
        self.plan.corrections.append(Correction(
            label, record.number, f"{member.number} {member.name}", record.date, changes,
            "Adjustment in the open period: " + ("; ".join(notes) or "nothing to post"),
            past_period=True, closed=True,
            note="The closed transaction was left unchanged in QuickBooks.",
            amount_before=total_of(before), amount_after=data.total if data is not None else Decimal("0.00"),
            accounts=accounts_of(before, after)))

    def _item_ref(self, gl_id: int) -> Ref:
        if gl_id not in self._items:
            raise KeyError(gl_id)
        return self._items[gl_id]


def _adjustment_id(company_key: str, kind: Kind, local_id: int, today: dt.date, doc_kind: Kind,
                   version: str) -> int:
    """The local id of an adjustment document: stable for one version of the original (``version``: its
    billing ``updated_at`` and fingerprint), so a run that settles an interrupted one finds it again;
    different for each further adjustment of the same original, even back to an earlier amount on the same
    day (each keeps its own link row, which reconcile counts, and its own ExternalGUID)."""
    digest = hashlib.sha256(f"{company_key}/{kind.value}/{local_id}/{today}/{doc_kind.value}/{version}"
                            .encode()).hexdigest()
    return int(digest[:7], 16)
