"""The check step (DESIGN.md step 3), before anything is planned: members whose QuickBooks customer is gone are held
back (:func:`hold_back_gone`); then G/L accounts' cross references, members' customers (with the question whether
to create the missing ones) and payments' deposit accounts (:func:`check`). The rules themselves are
:mod:`booksync.sync.checks` and :mod:`booksync.sync.customers`; this module turns them into a :class:`Stop` or lets
the run go on."""
from __future__ import annotations

from dataclasses import dataclass

from booksync.domain import Problem, QBSnapshot
from booksync.exits import EXIT_CHECKS, EXIT_DECLINED
from booksync.sync.checks import (UNMAPPED_HEADLINE, check_accounts, check_deposit_accounts, check_items,
                                  check_classes, check_payment_methods)
from booksync.sync.customers import (CustomerResolution, customer_gone_problem, customers_gone, hold_back,
                                     resolve_customers)
from booksync.sync.labels import member_label
from booksync.sync.options import Interaction
from booksync.sync.result import Stop
from booksync.sync.work import Work


@dataclass
class Checked:
    """What the checks let through: how each billed member reaches its customer, and whether the missing
    customers are to be created."""

    customers: CustomerResolution
    create: bool


def hold_back_gone(work: Work, snapshot: QBSnapshot) -> list[Problem]:
    """Take the records of members whose linked QuickBooks customer is gone out of ``work`` (they stay
    outstanding); one problem per member, reported whatever else happens."""
    held = []
    for member, link in customers_gone(work, snapshot):
        count = hold_back(work, {member.id})
        held.append(customer_gone_problem(member, link, count))
    return held


def check(work: Work, snapshot: QBSnapshot, ui: Interaction, create_methods: bool = True) -> Checked | Stop:
    """Run the checks in order; the first that fails stops the run (exit 3; 4 when the person declines to
    create customers). ``create_methods``: the home's ``[sync] create_payment_methods``."""
    problems = check_accounts(work, snapshot)
    if problems:
        headline = UNMAPPED_HEADLINE.format(n=len(problems))
        return Stop("stopped", EXIT_CHECKS, headline + " Map them, then synchronize again.", problems)
    problems = check_items(work, snapshot)
    if problems:
        return Stop("stopped", EXIT_CHECKS, f"{len(problems)} G/L account(s) name a QuickBooks item their lines "
                    "cannot use; nothing was written.", problems)
    problems = check_classes(work, snapshot)
    if problems:
        return Stop("stopped", EXIT_CHECKS, "The lines' classes cannot be used in QuickBooks; nothing was written.",
                    problems)
    problems = check_payment_methods(work, snapshot, create_methods)
    if problems:
        return Stop("stopped", EXIT_CHECKS, f"{len(problems)} payment method(s) cannot reach a QuickBooks payment "
                    "method; nothing was written.", problems)
    customers = resolve_customers(work, snapshot)
    if customers.problems:
        return Stop("stopped", EXIT_CHECKS, "Some members cannot reach their QuickBooks customer.",
                    customers.problems)
    create = False
    if customers.missing:
        labels = [member_label(m) for m in customers.missing]
        create = ui.ask_create_customers(labels)
        if not create:
            problems = [Problem("no-customer", label, "has no QuickBooks customer",
                                f"link it by hand: booksync members map {m.number} \"Customer name\"",
                                "link it to a QuickBooks customer on the member's Bill Info tab")
                        for label, m in zip(labels, customers.missing)]
            return Stop("declined", EXIT_DECLINED,
                        f"{len(labels)} member(s) have no QuickBooks customer and none were created; "
                        "nothing was written.", problems)
    problems = check_deposit_accounts(work, snapshot)
    if problems:
        return Stop("stopped", EXIT_CHECKS, f"{len(problems)} payment(s) deposit to an account "
                    "QuickBooks does not accept for payments; nothing was written.", problems)
    return Checked(customers, create)
