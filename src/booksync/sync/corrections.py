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

from booksync.domain import Action, Correction, Kind, PaymentData, Plan, Problem, QBDeposit
from booksync.fields import cut
from booksync.records import PaymentRecord, ReceiptRecord, SaleRecord
from booksync.sync.correct_deposits import DepositCorrections
from booksync.sync.correct_payments import PaymentCorrections
from booksync.sync.correct_sales import SalesCorrections
from booksync.sync.correction_words import WEB_CONFLICT, describe_changes
from booksync.sync.labels import customer_name, member_label
from booksync.sync.planner import Planner
from booksync.sync.written import fingerprint, written_json


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


class CorrectionPlanner(SalesCorrections, PaymentCorrections, DepositCorrections, Planner):
    """The planner with corrections: see the module docstring.

    Extra inputs: ``remote`` (kind, local_id) → :class:`Remote` for every linked record to
    correct, and ``policy``.
    """

    def __init__(self, *args: Any, remote: dict[tuple[str, int], Remote], policy: CorrectionPolicy,
                 deposits: dict[str, QBDeposit] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.remote = remote
        self.policy = policy
        self.deposits = deposits or {}
        """QuickBooks deposits by the TxnID of each payment they hold (or hold the place of)."""
        self._deposit_notes: dict[tuple[str, int], tuple[str, str, bool]] = {}
        """(kind, id) of a payment or sales receipt → (action prefix, note for the Corrections Log, put back into
        its deposit)."""
        self.skipped: list[str] = []
        self._corrections_of_sales: list[tuple] = []
        self._payloads: dict[int, PaymentData] = {}

    # -- the order of a plan with corrections

    def build(self, create_customers: bool) -> Plan:
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
        self.plan_receipt_adds()
        self.plan_payment_adds()
        final = {p.id: p for p in self.work.changed_payments}
        final.update({p.id: p for p in releases})
        for payment in sorted(final.values(), key=lambda p: (p.date, p.number)):
            self._plan_payment_mod(payment, released=payment.id in {r.id for r in releases})
        for step in after_deposits:
            step()
        return self.plan

    # -- new transactions dated in a closed period

    def _plan_sales(self, kind: Kind, record: SaleRecord) -> None:
        if self._closed_add(kind, record):
            return
        super()._plan_sales(kind, record)

    def _plan_payment(self, payment: PaymentRecord) -> None:
        if self._closed_add(Kind.PAYMENT, payment):
            return
        super()._plan_payment(payment)

    def _plan_receipt(self, receipt: ReceiptRecord) -> None:
        if self._closed_add(Kind.SALES_RECEIPT, receipt):
            return
        super()._plan_receipt(receipt)

    def _closed_add(self, kind: Kind, record: SaleRecord | PaymentRecord | ReceiptRecord) -> bool:
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

    def _flags(self, *dates: dt.date | str | None) -> tuple[bool, bool]:
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
