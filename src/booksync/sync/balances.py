"""Before anything is written: every application of the plan's payments to an invoice already in QuickBooks
must fit what QuickBooks holds open on that invoice.

The billing store checks applications against its own invoices and payments (the import and ``payments
edit``), but a payment entered directly in QuickBooks may already have paid the invoice. QuickBooks would then
refuse the application with status 3210 half way through the run (reference/quickbooks-desktop.md §9). So the
engine observes the payment operations as they are staged (:class:`PlannedApplications`), reads the invoices
they apply to (BalanceRemaining and the linked transactions) and the applications of the plan's own payments
already in QuickBooks, and stops the run (exit 3, nothing written) naming the invoice, the amounts and both
payments (:func:`check_open_balances`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from booksync.domain import Action, Kind, Operation, PaymentData, Problem, SalesData

ZERO = Decimal("0.00")


@dataclass
class _Payment:
    number: str
    remote_id: str
    applied: dict[str, tuple[str, Decimal]]
    """invoice TxnID → (invoice number, amount applied, credits included)."""


@dataclass
class PlannedApplications:
    """What the plan's payments apply to invoices already in QuickBooks, as the last operation of each payment
    leaves it; and the invoices the plan changes (their new totals) or voids and deletes. Holds only payments
    that apply to an invoice in QuickBooks or are in QuickBooks themselves (a first sync's payments apply to
    invoices added in the same run, which no other payment can have paid)."""

    payments: dict[int, _Payment] = field(default_factory=dict)
    new_totals: dict[str, Decimal] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)

    def observe(self, ops: Iterable[Operation]) -> None:
        """Note the operations as they are staged, in the plan's order."""
        for op in ops:
            if op.kind is Kind.INVOICE and op.remote_id:
                if op.action is Action.MOD and isinstance(op.payload, SalesData):
                    self.new_totals[op.remote_id] = op.payload.total
                elif op.action in (Action.VOID, Action.DELETE):
                    self.gone.add(op.remote_id)
            if op.kind is not Kind.PAYMENT:
                continue
            known = self.payments.get(op.local_id)
            remote_id = op.remote_id or (known.remote_id if known is not None else "")
            applied: dict[str, tuple[str, Decimal]] = {}
            if op.action is not Action.DELETE and isinstance(op.payload, PaymentData):
                for app in op.payload.applications:
                    if not app.invoice.remote_id:
                        continue
                    credits = sum((c.amount for c in app.credits), ZERO)
                    number, before = applied.get(app.invoice.remote_id, (app.invoice.name, ZERO))
                    applied[app.invoice.remote_id] = (number, before + app.amount + credits)
            if applied or remote_id:
                self.payments[op.local_id] = _Payment(op.number, remote_id, applied)


def check_open_balances(planned: PlannedApplications, port: Any) -> list[Problem]:
    """Read the invoices the plan's payments apply to and stop where QuickBooks holds less of one open than the
    plan applies to it: what QuickBooks holds open for booksync's payments is the invoice's new total less what
    other payments (entered in QuickBooks) and their credits apply to it.

    ``port`` is the books port (:meth:`~booksync.books.port.BooksPort.transactions`: invoices with ``balance``
    and ``linked``, payments with ``applied``). Invoices the port does not report a balance for are not checked.
    """
    wanted: dict[str, dict[str, Any]] = {}
    for payment in planned.payments.values():
        for invoice_id, (number, amount) in payment.applied.items():
            if invoice_id in planned.gone:
                continue
            entry = wanted.setdefault(invoice_id, {"number": number, "amount": ZERO, "receipts": []})
            entry["amount"] += amount
            entry["receipts"].append(payment.number)
    if not wanted:
        return []
    ours = {p.remote_id: p.number for p in planned.payments.values() if p.remote_id}
    in_qb: dict[str, Decimal] = {}
    if ours:
        for txn in port.transactions(Kind.PAYMENT.value, sorted(ours)).values():
            for invoice_id, amount in txn.applied:
                in_qb[invoice_id] = in_qb.get(invoice_id, ZERO) + amount
    invoices = port.transactions(Kind.INVOICE.value, sorted(wanted))
    problems = []
    for invoice_id, entry in sorted(wanted.items(), key=lambda kv: kv[1]["number"]):
        txn = invoices.get(invoice_id)
        if txn is None or txn.balance is None:
            continue  # gone from QuickBooks: the corrections' own checks report it
        total = planned.new_totals.get(invoice_id, txn.total)
        others = txn.total - txn.balance - in_qb.get(invoice_id, ZERO)
        available = total - others
        if entry["amount"] <= available:
            continue
        problems.append(_problem(entry, txn, total, others, available, ours))
    return problems


def _problem(entry: dict[str, Any], txn: Any, total: Decimal, others: Decimal, available: Decimal,
             ours: dict[str, str]) -> Problem:
    receipts = sorted(set(entry["receipts"]))
    who = ("payment " if len(receipts) == 1 else "payments ") + ", ".join(receipts)
    elsewhere = [(txn_id, ref, amount) for txn_id, kind, ref, amount in txn.linked
                 if kind in ("ReceivePayment", "Payment") and txn_id not in ours]
    if elsewhere:
        named = "; ".join(f"payment {ref or '(no number)'} (TxnID {txn_id})"
                          + (f" applies {amount}" if amount is not None else "") for txn_id, ref, amount in elsewhere)
        paid = f"{others} of it is paid in QuickBooks by a payment booksync did not write: {named}"
    else:
        paid = f"{others} of it is paid in QuickBooks by payments or credits booksync did not write"
    first = receipts[0]
    return Problem(
        "invoice-balance", f"invoice {entry['number']}",
        f"{who} would apply {entry['amount']} to it, but QuickBooks holds only {max(available, ZERO)} of it open "
        f"(total {total}; {paid})",
        "if it is the same payment entered twice, delete one of them (in QuickBooks, or booksync payments delete "
        f"{first}); otherwise correct the application: booksync payments edit {first} --apply "
        f"{entry['number']}=AMOUNT",
        f"if it is the same payment entered twice, delete one of them (in QuickBooks, or payment {first} in the "
        f"billing system); otherwise correct what payment {first} applies to invoice {entry['number']} in the "
        "billing system")
