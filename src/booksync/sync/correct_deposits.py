"""Deposited payments and sales receipts (issue 17; issue 21 item 1; a part of
:class:`booksync.sync.corrections.CorrectionPlanner`): a payment or sales receipt this plan corrects is taken out of
its QuickBooks deposit behind a line of the same amount (so the deposit's total never moves), corrected, and put
back. A deposit whose total would change stops the run unless deposit changes are allowed. docs/architecture.md
"Deposits" gives the rules. Records are keyed by (kind, id) (:data:`Key`): a payment and a sales receipt may share
a row id.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Callable

from booksync.domain import (PLACEHOLDER_MEMO, Action, DepositData, DepositLineData, Kind, Problem, QBAccount,
                             QBDeposit, QBDepositLine, Ref, placeholder_payment)
from booksync.records import PaymentRecord, ReceiptRecord
from booksync.sync.correction_words import WEB_DEPOSITS

NO_DEPOSIT = ("", "", False)
"""The deposit note of a payment in no deposit: (action prefix, note for the Corrections Log, put back)."""

Key = tuple[str, int]
"""A deposited record: (kind, id), kind "payment" or "sales_receipt"."""
Deposited = PaymentRecord | ReceiptRecord


def amount_of(record: Deposited) -> Decimal:
    """What a payment or sales receipt puts into Undeposited Funds."""
    return record.total if hasattr(record, "lines") else record.amount


class DepositCorrections:
    """Taking corrected payments out of their deposits and putting them back; mixed into the corrections planner."""

    def _deposits_before(self, releases: list[PaymentRecord]) -> list[Callable[[], None]]:
        """Take corrected payments and sales receipts out of their deposits, each replaced by a line of the same amount
        so that the deposit's total does not move; return the steps that put them back afterwards.

        A payment booksync left out of its deposit behind such a line (an interrupted or refused run; the
        line is found by its memo) is put back too. A deposit whose total would change at the end (an amount
        changed, a payment deleted or no longer deposited through Undeposited Funds) stops the run unless
        deposit changes are allowed.
        """
        affected: dict[str, dict[Key, Deposited]] = {}
        deposits = {d.txn_id: d for d in self.deposits.values()}
        linked = self._linked_payments()
        corrected: dict[Key, Deposited] = {(Kind.PAYMENT.value, p.id): p
                                           for p in self._corrected_payments(releases).values()}
        corrected.update({(Kind.SALES_RECEIPT.value, r.id): r for r in self.corrected_receipts()})
        for key, record in corrected.items():
            link = self.work.links.get(key)
            deposit = self.deposits.get(link.remote_id) if link is not None else None
            if deposit is not None:
                affected.setdefault(deposit.txn_id, {})[key] = record
        for deposit in deposits.values():
            for line in deposit.lines:
                found = linked.get(placeholder_payment(line.memo))
                if found is not None:
                    # A line left by an interrupted run: the record it stands for goes back in now.
                    affected.setdefault(deposit.txn_id, {})[found[0]] = found[1]
        steps = []
        for txn_id, members in affected.items():
            step = self._deposit_plan(deposits[txn_id], members)
            if step is not None:
                steps.append(step)
        return steps

    def _linked_payments(self) -> dict[str, tuple[Key, Deposited]]:
        """Every payment and sales receipt the run loaded that booksync wrote, by its TxnID."""
        out: dict[str, tuple[Key, Deposited]] = {}
        records: list[tuple[str, Deposited]] = [(Kind.PAYMENT.value, p) for p in (
            self.work.linked_payments_touching + self.work.changed_payments + self.work.deleted_payments
            + self.work.held_payments)]
        records += [(Kind.SALES_RECEIPT.value, r) for r in self.work.changed_receipts + self.work.held_receipts]
        for kind, record in records:
            link = self.work.links.get((kind, record.id))
            if link is not None and link.remote_id:
                out[link.remote_id] = ((kind, record.id), record)
        return out

    def _deposit_plan(self, deposit: QBDeposit, payments: dict[Key, Deposited]) -> Callable[[], None] | None:
        """Take ``payments`` (by id) out of ``deposit`` now; return the step that puts them back after their
        corrections, or None when the run must stop (the total would change) or cannot use Undeposited Funds."""
        change = self._deposit_change(deposit, payments)
        if change.changed and not self.policy.allow_deposit_changes:
            self._report_deposit_change(change)
            return None
        if change.undeposited is None:
            return None
        self._take_out(change)
        self._note_deposit(change)
        return partial(self._put_back, change)

    def _deposit_change(self, deposit: QBDeposit, payments: dict[Key, Deposited]) -> DepositChange:
        uf = next((a for a in self.snapshot.accounts if a.special == "UndepositedFunds"), None)
        remote_of = {key: self.work.links[key].remote_id for key in payments}
        affected_ids = set(remote_of.values())
        # Every other line stays as it is, by its line id (a placeholder of a payment booksync does not know too).
        keep = [ln for ln in deposit.lines
                if ln.payment_id not in affected_ids and placeholder_payment(ln.memo) not in affected_ids]
        held = {ln.payment_id or placeholder_payment(ln.memo): ln.amount for ln in deposit.lines
                if (ln.payment_id or placeholder_payment(ln.memo)) in affected_ids}
        back: list[tuple[Key, Deposited, Decimal]] = []
        for key, payment in payments.items():
            gl = self.work.gl_accounts[payment.deposit_account_id]
            target = self._accounts.get((gl.qb_account or "").casefold())
            if payment.status == "open" and uf is not None and target is not None and target.list_id == uf.list_id:
                back.append((key, payment, amount_of(payment)))
        new_total = sum((ln.amount for ln in keep), Decimal("0.00")) + sum((a for *_, a in back), Decimal("0.00"))
        return DepositChange(deposit, payments, uf, remote_of, affected_ids, keep, held, back, new_total)

    def _report_deposit_change(self, change: DepositChange) -> None:
        """The problems that stop the run: the deposit's total would change (a deposit may be reconciled)."""
        deposit, where, new_total = change.deposit, change.where, change.new_total
        reported = len(self.problems)
        for key, payment in change.payments.items():
            member = self.work.members[payment.member_id]
            word = Kind(key[0]).label
            only = len(deposit.lines) == 1
            steps = "in QuickBooks, " + (f"delete the deposit (the {word} is its only line)" if only else
                                         f"remove the {word} from the deposit")
            after = (f", then deposit the {word} again; a re-created deposit is no longer reconciled"
                     if payment.status == "open" else "; re-reconcile the deposit afterwards")
            went = next((a for k, _, a in change.back if k == key), None)
            if payment.status != "open":
                why = "voiding it" if payment.status == "void" else "deleting it"
            elif went is not None and went == change.held.get(change.remote_of[key]):
                continue  # this record's own correction keeps the deposit's total
            else:
                why = "correcting it"
            self.problems.append(Problem(
                "deposit-change", f"{word} {payment.number} from {member.name}, {payment.date}",
                f"is in {where} (total {deposit.total}); {why} would change the deposit's total to {new_total}, "
                "and the deposit may already be reconciled",
                steps + ", run 'booksync sync' again" + after + ". Or let booksync do it: --allow-deposit-changes",
                steps + ", synchronize again" + after + ". Or let booksync do it: " + WEB_DEPOSITS))
        if len(self.problems) == reported:
            self.problems.append(Problem(
                "deposit-change", where, f"would change from {deposit.total} to {new_total} when booksync puts "
                f"payment(s) {', '.join(p.number for p in change.payments.values())} back",
                "check the deposit in QuickBooks, or let booksync do it: --allow-deposit-changes",
                "check the deposit in QuickBooks, or let booksync do it: " + WEB_DEPOSITS))

    def _take_out(self, change: DepositChange) -> None:
        """The deposit without the payments, each replaced by a placeholder line of its amount (to Undeposited
        Funds), when it holds any of them."""
        deposit, affected_ids, uf = change.deposit, change.affected_ids, change.undeposited
        lines = [DepositLineData(ln.line_id) for ln in deposit.lines if ln.payment_id not in affected_ids]
        for key, payment in change.payments.items():
            old = next((ln for ln in deposit.lines if ln.payment_id == change.remote_of[key]), None)
            if old is not None:
                lines.append(DepositLineData("-1", entity=self.customer_ref(payment.member_id),
                                             account=Ref("account", None, uf.list_id), amount=old.amount,
                                             memo=PLACEHOLDER_MEMO.format(txn_id=change.remote_of[key])))
        names = ", ".join(p.number for p in change.payments.values())
        if any(ln.payment_id in affected_ids for ln in deposit.lines):
            self.plan.add(action=Action.MOD, kind=Kind.DEPOSIT, local_id=_deposit_local_id(deposit.txn_id),
                          number=f"deposit {deposit.date}",
                          description=f"Take payment(s) {names} out of {change.where}; a line of the same amount "
                                      f"keeps its total at {deposit.total}",
                          payload=DepositData(tuple(lines)), remote_id=deposit.txn_id,
                          edit_sequence=deposit.edit_sequence, link_mode="deposit")

    def _note_deposit(self, change: DepositChange) -> None:
        """What the Corrections Log says of each payment's deposit."""
        deposit, new_total = change.deposit, change.new_total
        if not change.changed:
            note = f"Taken out of {change.where} and put back; the deposit's total and account are unchanged."
        elif new_total == 0 and not change.keep and not change.back:
            note = (f"The deposit of {deposit.date} to {deposit.account_name} ({deposit.total}) was deleted: no "
                    "payment was left in it; re-reconcile the bank account for that date.")
        else:
            note = (f"The deposit of {deposit.date} to {deposit.account_name} changed from {deposit.total} to "
                    f"{new_total}; re-reconcile this deposit.")
        put_back = {key for key, *_ in change.back}
        for key in change.payments:
            self._deposit_notes[key] = ("taken out of the deposit, ", note, key in put_back)

    def _put_back(self, change: DepositChange) -> None:
        """The payments back into the deposit (or the deposit deleted when nothing is left in it)."""
        # The version read now: when this plan takes the payments out first, the apply step sends the
        # EditSequence that take-out returned instead (a later message: booksync.sync.references.Versions).
        deposit, where = change.deposit, change.where
        final = [DepositLineData(ln.line_id) for ln in change.keep]
        final += [DepositLineData("-1", payment=Ref(key[0], p.id, change.remote_of[key], p.number))
                  for key, p, _ in change.back]
        if final:
            self.plan.add(action=Action.MOD, kind=Kind.DEPOSIT, local_id=_deposit_local_id(deposit.txn_id),
                          number=f"deposit {deposit.date}",
                          description=f"Put payment(s) {', '.join(p.number for _, p, _ in change.back)} back into "
                                      f"{where}; its total is then {change.new_total}",
                          payload=DepositData(tuple(final)), remote_id=deposit.txn_id,
                          edit_sequence=deposit.edit_sequence, link_mode="deposit")
        else:
            self.plan.add(action=Action.DELETE, kind=Kind.DEPOSIT, local_id=_deposit_local_id(deposit.txn_id),
                          number=f"deposit {deposit.date}",
                          description=f"Delete {where}: no payment is left in it", remote_id=deposit.txn_id,
                          link_mode="deposit")  # its version is read just before it is sent


@dataclass
class DepositChange:
    """What correcting ``payments`` (payments and sales receipts, by (kind, id)) does to one QuickBooks ``deposit``."""

    deposit: QBDeposit
    payments: dict[Key, Deposited]
    undeposited: QBAccount | None
    """QuickBooks' Undeposited Funds account, or None when the company has none."""
    remote_of: dict[Key, str]
    """(kind, id) → its TxnID."""
    affected_ids: set[str]
    keep: list[QBDepositLine]
    """The deposit's other lines, kept by their line ids."""
    held: dict[str, Decimal]
    """TxnID → the amount of its line (or placeholder line) in the deposit."""
    back: list[tuple[Key, Deposited, Decimal]]
    """The payments and sales receipts that go back in (still open and deposited through Undeposited Funds), with their amounts."""
    new_total: Decimal

    @property
    def where(self) -> str:
        return f"the deposit of {self.deposit.date} to {self.deposit.account_name}"

    @property
    def changed(self) -> bool:
        return self.new_total != self.deposit.total


def _deposit_local_id(txn_id: str) -> int:
    return int(hashlib.sha256(txn_id.encode()).hexdigest()[:7], 16)
