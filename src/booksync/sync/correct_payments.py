"""Corrections of payments (a part of :class:`booksync.sync.corrections.CorrectionPlanner`): a changed payment
becomes ReceivePaymentMod, a deleted one TxnDel (a payment cannot be voided through qbXML); a payment applied to an
invoice or credit memo being corrected is first released (its applications to them removed) and applied again
afterwards, so QuickBooks never sees an invoice smaller than what was paid on it (status 3210).
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Callable

from booksync.domain import Action, ApplicationData, Correction, CreditData, Kind, PaymentData, Problem, Ref
from booksync.records import PaymentRecord
from booksync.sync.correct_deposits import NO_DEPOSIT
from booksync.sync.correction_words import accounts_of, describe_changes
from booksync.sync.written import fingerprint, written_json


class PaymentCorrections:
    """The corrections of payments; mixed into the corrections planner, whose state it uses."""

    def _payments_to_release(self) -> list[PaymentRecord]:
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

    def _plan_payment_delete(self, payment: PaymentRecord) -> None:
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
            self._deposit_note(payment)[0] + "deleted",
            past_period=past, closed=closed, note=" ".join(x for x in (note, self._deposit_note(
                payment)[1]) if x), amount_before=Decimal(before.get("total") or "0"),
            amount_after=Decimal("0.00"), accounts=accounts_of(before)))

    def _plan_release(self, payment: PaymentRecord) -> None:
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

    def _payment_from_written(self, payment: PaymentRecord, written: dict, apps: tuple) -> PaymentData:
        current = self.payment_data(payment)
        return PaymentData(customer=self._ref_from(written["customer"]),
                           date=dt.date.fromisoformat(written["date"]), ref_number=written.get("ref_number", ""),
                           total=Decimal(written["total"]), method=current.method, deposit_to=current.deposit_to,
                           memo=written.get("memo", ""), applications=apps, external_guid=current.external_guid)

    def _plan_payment_mod(self, payment: PaymentRecord, released: bool) -> None:
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
                self._deposit_note(payment)[0] + "changed"
                + (" (applications released first, then applied again)" if released else "")
                + (", put back into the deposit" if self._deposit_note(payment)[2]
                   else ""),
                past_period=past, closed=closed, note=" ".join(x for x in (note, self._deposit_note(
                    payment)[1]) if x), amount_before=Decimal(before.get("total") or "0"),
                amount_after=payment.amount, accounts=accounts_of(before, after)))

    def _deposit_note(self, payment: PaymentRecord) -> tuple[str, str, bool]:
        """What the Corrections Log says of the payment's deposit (:data:`NO_DEPOSIT` when it is in none)."""
        return self._deposit_notes.get((Kind.PAYMENT.value, payment.id), NO_DEPOSIT)

    def _corrected_payments(self, releases: list[PaymentRecord]) -> dict[int, PaymentRecord]:
        """The payments this plan changes or deletes in QuickBooks, by id: only they leave their deposit.

        A changed payment whose payload is the one written (an edit made and undone, a memo set to the value it
        had) changes nothing QuickBooks holds and stays where it is; so does a conflict the policy skips."""
        out: dict[int, PaymentRecord] = {p.id: p for p in self.work.deleted_payments}
        for payment in self.work.changed_payments:
            link = self.work.links.get((Kind.PAYMENT.value, payment.id))
            if link is not None and (link.fingerprint == "released"
                                     or fingerprint(self._payment_payload(payment)) != link.fingerprint):
                out[payment.id] = payment
        out.update({p.id: p for p in releases})
        return {pid: p for pid, p in out.items() if not self._skipped_conflict(p)}

    def _payment_payload(self, payment: PaymentRecord) -> PaymentData:
        """:meth:`payment_data`, once per payment (the fitting of its fields is recorded once)."""
        data = self._payloads.get(payment.id)
        if data is None:
            data = self._payloads[payment.id] = self.payment_data(payment)
        return data

    def _skipped_conflict(self, payment: PaymentRecord) -> bool:
        """True when the payment was edited in QuickBooks and the policy leaves QuickBooks' version."""
        link = self.work.links.get((Kind.PAYMENT.value, payment.id))
        remote = self.remote.get((Kind.PAYMENT.value, payment.id))
        return (self.policy.on_conflict == "skip" and link is not None and remote is not None and remote.exists
                and bool(link.edit_sequence) and remote.edit_sequence != link.edit_sequence)


def _credit(c: dict, ref_from: Callable[[dict], Ref]) -> CreditData:
    return CreditData(ref_from(c["credit_memo"]), Decimal(c["amount"]))
