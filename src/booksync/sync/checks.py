"""The checks that stop a run before anything is written (DESIGN.md step 3): account cross references
(:func:`check_accounts`), deposit accounts of payments and sales receipts (:func:`check_deposit_accounts`), and what payments apply to
(:func:`application_problems`, :func:`check_applications`, :func:`check_overapplied`). Customers are checked in
:mod:`booksync.sync.customers`. Pure functions over :class:`~booksync.sync.work.Work` and a
:class:`~booksync.domain.QBSnapshot`; nothing here reads a database or talks to QuickBooks.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterable, Protocol

from booksync.account_rules import (DEPOSIT_GL_TYPES, allowed_types, incompatibility, item_refusal, method_refusal,
                                    suggest)
from booksync.domain import Kind, Problem, QBSnapshot
from booksync.records import GLAccountRecord, PaymentRecord
from booksync.sync.labels import gl_label
from booksync.sync.work import Work

UNMAPPED_HEADLINE = "You have {n} account(s) which do not have a matching QuickBooks account specified."


class Planned(Protocol):
    """The records a plan adds, by (kind, local id): :class:`booksync.sync.planner.PlannedKeys`, or a set."""

    def __contains__(self, key: tuple[str, int], /) -> bool: ...


def xref_advice(gl: GLAccountRecord, snapshot: QBSnapshot) -> str:
    """The command that maps ``gl`` to a QuickBooks account of a type it may post to: the suggestion when
    there is one (:func:`booksync.account_rules.suggest`), else a placeholder naming the types allowed."""
    hint = suggest(gl, snapshot.accounts)
    if hint is not None:
        return f"booksync accounts xref --set {gl.number}=\"{hint.full_name}\""
    return (f"map it to {allowed_types(gl.type)}: booksync accounts xref --set {gl.number}=\"QuickBooks account "
            "name\"")


def check_accounts(work: Work, snapshot: QBSnapshot) -> list[Problem]:
    """Every G/L account used by the records must cross-reference an active QuickBooks account of a type it may
    post to (:func:`booksync.account_rules.incompatibility`: a cross reference set before that rule, or in the
    gl-accounts import, is caught here, before anything is written)."""
    used = work.line_accounts()
    for gl_id, n in work.deposit_accounts().items():
        used[gl_id] = used.get(gl_id, 0) + n
    by_name = snapshot.account_by_name()
    problems = []
    for gl_id in sorted(used, key=lambda i: work.gl_accounts[i].number):
        gl = work.gl_accounts[gl_id]
        target = by_name.get((gl.qb_account or "").casefold())
        if not gl.qb_account:
            reason = "has no QuickBooks account specified"
        elif target is None:
            reason = f"names QuickBooks account \"{gl.qb_account}\", which the company file does not have"
        elif not target.is_active:
            reason = f"names QuickBooks account \"{gl.qb_account}\", which is inactive"
        elif (refused := incompatibility(gl, target, named=False)) is not None:
            problems.append(Problem("incompatible-account", gl_label(gl), f"{refused} (used {used[gl_id]} time(s))",
                                    xref_advice(gl, snapshot),
                                    f"choose {allowed_types(gl.type)} for it on the Cross Reference Accounts page"))
            continue
        else:
            continue
        problems.append(Problem("unmapped-account", gl_label(gl), f"{reason} (used {used[gl_id]} time(s))",
                                f"booksync accounts xref --set {gl.number}=\"QuickBooks account name\"",
                                "choose its QuickBooks account on the Cross Reference Accounts page"))
    return problems

def check_items(work: Work, snapshot: QBSnapshot) -> list[Problem]:
    """Every G/L account used by the lines that names an existing QuickBooks item (``qb_item``, set by
    ``booksync accounts items``) must name one its lines may use: QuickBooks has it, it is active, of a type that
    carries a billing line and posts to the G/L account's cross-referenced account
    (:func:`booksync.account_rules.item_refusal`). Run after :func:`check_accounts`, before anything is written."""
    used = work.line_accounts()
    items = {i.name.casefold(): i for i in snapshot.items}
    accounts = snapshot.account_by_name()
    problems = []
    for gl_id in sorted(used, key=lambda i: work.gl_accounts[i].number):
        gl = work.gl_accounts[gl_id]
        if not getattr(gl, "qb_item", ""):
            continue
        item = items.get(gl.qb_item.casefold())
        if item is None:
            reason = f"names QuickBooks item \"{gl.qb_item}\", which the company file does not have"
        else:
            reason = item_refusal(gl, item, accounts.get((gl.qb_account or "").casefold()))
        if reason is None:
            continue
        problems.append(Problem("refused-item", gl_label(gl), f"{reason} (used {used[gl_id]} time(s))",
                                f"choose another: booksync accounts items --suggest --quickbooks, then --set "
                                f"{gl.number}=\"Item\"; or use booksync's own item: booksync accounts items "
                                f"--clear {gl.number}",
                                "choose another item for it on the Items page, or leave it to booksync's own item"))
    return problems


def check_classes(work: Work, snapshot: QBSnapshot) -> list[Problem]:
    """Lines tracked under a class (the G/L account's ``qb_class``, else the home's default class) need a company
    that tracks classes (Desktop: PreferencesQuery's IsUsingClassTracking; Online: ClassTrackingPerTxnLine) and a
    class it has and holds active (QuickBooks refuses a missing or inactive ClassRef: 3140, reference §7; Online
    2500/610). Before anything is written."""
    used = work.line_accounts()
    wanted: dict[str, list[str]] = {}
    for gl_id in sorted(used, key=lambda i: work.gl_accounts[i].number):
        name = work.line_class(gl_id)
        if name:
            wanted.setdefault(name, []).append(gl_label(work.gl_accounts[gl_id]))
    if not wanted:
        return []
    if not snapshot.company.uses_classes:
        return [Problem("no-class-tracking", f"company \"{snapshot.company.name}\"",
                        f"does not use class tracking, and the lines of {len(sum(wanted.values(), []))} G/L "
                        f"account(s) are to be tracked under classes ({', '.join(sorted(wanted))})",
                        "turn class tracking on in QuickBooks (Preferences > Accounting > Use class tracking), or "
                        "remove the classes: booksync accounts classes --clear NUMBER (and [sync] default_class)",
                        "turn class tracking on in QuickBooks, or remove the classes from the G/L accounts")]
    classes = {c.name.casefold(): c for c in snapshot.classes}
    problems = []
    for name, gls in sorted(wanted.items()):
        found = classes.get(name.casefold())
        if found is not None and found.is_active:
            continue
        why = "which the company file does not have" if found is None else "which is inactive in QuickBooks"
        problems.append(Problem("refused-class", f"class \"{name}\"", f"{why} (for {', '.join(gls)})",
                                "add or reactivate it in QuickBooks (Lists > Class List), or choose another: "
                                "booksync accounts classes --quickbooks",
                                "add or reactivate it in QuickBooks, or choose another class for the G/L account"))
    return problems


def check_payment_methods(work: Work, snapshot: QBSnapshot, create_missing: bool) -> list[Problem]:
    """Every payment method the payments carry must reach a payment method QuickBooks has and holds active, or one
    booksync may create: the method mapped by ``booksync payments methods`` (created when the mapping asks), else
    the method of the same name (created when missing if ``create_missing``, the home's ``[sync]
    create_payment_methods``). :func:`booksync.account_rules.method_refusal`; before anything is written."""
    methods = {m.name.casefold(): m for m in snapshot.payment_methods}
    problems = []
    for billing in sorted(work.methods_used(), key=str.casefold):
        wanted, create = work.method_map.get(billing.casefold(), (billing, create_missing))
        refused = method_refusal(billing, wanted, methods.get(wanted.casefold()), create)
        if refused is None:
            continue
        problems.append(Problem(
            "refused-payment-method", f"payment method \"{billing}\"", refused,
            f"map it to one QuickBooks has: booksync payments methods --set \"{billing}=QuickBooks method\" (see "
            f"--quickbooks), or have booksync create it: booksync payments methods --create \"{billing}\"",
            "choose its QuickBooks payment method on the Payment Methods page, or have booksync create it there"))
    return problems


def deposit_gl_accounts(gl_accounts: Iterable[GLAccountRecord], snapshot: QBSnapshot) -> list[GLAccountRecord]:
    """The G/L accounts a payment may deposit to: of a deposit type (:data:`DEPOSIT_GL_TYPES`) and mapped to a
    QuickBooks account that holds deposits; the one mapped to Undeposited Funds first, then by number."""
    by_name = snapshot.account_by_name()
    out = []
    for gl in gl_accounts:
        target = by_name.get((gl.qb_account or "").casefold())
        if gl.type in DEPOSIT_GL_TYPES and target is not None and target.is_active and target.holds_deposits:
            out.append((target.special != "UndepositedFunds", gl.number, gl))
    return [gl for *_, gl in sorted(out, key=lambda t: (t[0], t[1]))]


def check_deposit_accounts(work: Work, snapshot: QBSnapshot) -> list[Problem]:
    """Every payment and sales receipt must deposit to a G/L account of a deposit type that maps to a Bank or
    Other Current Asset account (QuickBooks status 3140; a sales receipt's DepositToAccountRef follows the same
    rule, qbxmlops130-annotated.xml SalesReceiptAdd: "the account where the funds are deposited"). The advice
    never proposes a mapping the account rules refuse: a record deposited to an income G/L account is moved to a
    deposit account (``payments edit --deposit-account``; a sales receipt in the billing system)."""
    by_name = snapshot.account_by_name()

    def refused(gl: GLAccountRecord) -> bool:
        target = by_name.get((gl.qb_account or "").casefold())
        return gl.type not in DEPOSIT_GL_TYPES or (target is not None and not target.holds_deposits)

    wrong = {gl_id for gl_id in work.deposit_accounts() if refused(work.gl_accounts[gl_id])}
    choices = deposit_gl_accounts(work.gl_accounts.values(), snapshot)
    records: list[tuple[str, Deposited, Decimal]] = [
        ("payment", p, p.amount) for p in sorted(work.payments_depositing_to(wrong), key=lambda p: p.number)]
    records += [("sales receipt", r, r.total)
                for r in sorted(work.receipts_depositing_to(wrong), key=lambda r: r.number)]
    problems = []
    for word, record, amount in records:
        gl = work.gl_accounts[record.deposit_account_id]
        target = by_name.get((gl.qb_account or "").casefold())
        member = work.members[record.member_id]
        mapped = (f", which maps to QuickBooks account \"{target.full_name}\" of type {target.account_type}"
                  if target is not None else "")
        fix, fix_web = _deposit_fix(word, record.number, gl, snapshot, choices)
        problems.append(Problem(
            "deposit-account", f"{word} {record.number} from {member.name}, {record.date}, {amount}",
            f"deposits to {gl_label(gl)} of type {gl.type}{mapped}; QuickBooks accepts {word}s only into a Bank "
            "or Other Current Asset account", fix, fix_web))
    return problems


class Deposited(Protocol):
    """What the deposit check reads of a payment or a sales receipt."""

    @property
    def number(self) -> str: ...
    @property
    def member_id(self) -> int: ...
    @property
    def date(self) -> dt.date: ...
    @property
    def deposit_account_id(self) -> int: ...


def _deposit_fix(word: str, number: str, gl: GLAccountRecord, snapshot: QBSnapshot,
                 choices: list[GLAccountRecord]) -> tuple[str, str]:
    """(the command line's remedy, the web's) for a payment or sales receipt deposited to ``gl``."""
    if gl.type in DEPOSIT_GL_TYPES:
        return ("correct the account's cross reference: " + xref_advice(gl, snapshot),
                "choose a Bank or Other Current Asset account for it on the Cross Reference Accounts page")
    fix_web = (f"deposit the {word} to a Bank or Other Current Asset G/L account (normally Undeposited Funds) "
               "in the billing system")
    into = choices[0].number if choices else "NUMBER"
    if word == "payment":
        return (f"deposit the payment to a Bank or Other Current Asset G/L account (normally Undeposited Funds): "
                f"booksync payments edit {number} --deposit-account {into}", fix_web)
    return (f"deposit the sales receipt to a Bank or Other Current Asset G/L account (normally Undeposited Funds, "
            f"{into}) in the billing system, then import it again: booksync import sales-receipts FILE", fix_web)


def application_problems(work: Work, payments: Iterable[PaymentRecord], planned: Planned) -> list[Problem]:
    """Every invoice or credit memo these payments apply to must be open and in QuickBooks or in the plan
    (``planned``: (kind, local id) pairs)."""
    problems = []
    for payment in payments:
        for app in payment.applications:
            targets = [(Kind.INVOICE, app.invoice_id, app.invoice)]
            if app.credit_memo_id is not None:
                targets.append((Kind.CREDIT_MEMO, app.credit_memo_id, app.credit_memo))
            for kind, local_id, record in targets:
                key = (kind.value, local_id)
                if (work.link(*key) is not None or key in planned) and record.status == "open":
                    continue
                state = "is " + record.status if record.status != "open" else "is not synchronized"
                problems.append(Problem(
                    "application-target", f"payment {payment.number}",
                    f"applies to {kind.label} {record.number}, which {state}",
                    f"correct the payment's applications: booksync payments edit {payment.number} --apply ...",
                    "correct the payment's applications in the billing system, then synchronize again"))
    return problems


def check_applications(work: Work, planned: Planned) -> list[Problem]:
    """The applications of the changed payments (those of the payments to add are checked as they are
    planned: :meth:`Planner.plan_payment_adds`), and what the payments apply to changed invoices."""
    return application_problems(work, work.changed_payments, planned) + check_overapplied(work)


def check_overapplied(work: Work) -> list[Problem]:
    """A changed invoice must stay at least as large as what payments apply to it (QuickBooks 3210)."""
    changed = {i.id for i in work.changed_invoices if i.status == "open"}
    touching = work.changed_payments + work.linked_payments_touching + work.payments_applying_to(changed)
    payments = {p.id: p for p in touching if p.status == "open"}
    applied: dict[int, Decimal] = {}
    receipts: dict[int, list[str]] = {}
    for payment in payments.values():
        for app in payment.applications:
            applied[app.invoice_id] = applied.get(app.invoice_id, Decimal("0.00")) + app.amount + app.credit_amount
            receipts.setdefault(app.invoice_id, []).append(payment.number)
    problems = []
    for invoice in work.changed_invoices:
        if invoice.status == "open" and applied.get(invoice.id, Decimal("0.00")) > invoice.total:
            problems.append(Problem(
                "overapplied", f"invoice {invoice.number}",
                f"payments {', '.join(sorted(receipts[invoice.id]))} apply {applied[invoice.id]} to it, but its "
                f"total is now {invoice.total}",
                "reduce the payments' applications first: booksync payments edit RECEIPT --apply "
                f"{invoice.number}=AMOUNT",
                f"reduce what the payments apply to invoice {invoice.number} in the billing system first, then "
                "synchronize again"))
    return problems
