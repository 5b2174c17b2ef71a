"""Which payments waiting in Undeposited Funds make up a bank deposit line (issue 22 item 5).

A bank statement shows one line for a deposit of checks (1,140.00 on 10 March); QuickBooks shows the payments
waiting in Undeposited Funds one by one. :func:`group_payments` proposes the set of those payments whose total is
the bank line's amount to the cent: a subset-sum search, bounded so that it always ends and always ends the same
way.

- **Where it lives.** ``reports/`` is read-only and sits below ``sync/`` and ``services/`` (docs/architecture.md
  "Layers"): the command line's ``booksync deposits suggest`` reaches it through ``services/deposits.py``, the web
  can do the same, and the payouts of issue 22 (items 1–2, in ``sync/``) may use it to match a bank line. It is a
  pure function over amounts and dates: it imports only the foundation (``money``), reads and writes nothing.
- **Accepting is not here.** A proposal is only a proposal: accepting it will create the payout (issue 22 items
  1–2, not built yet), whose deposit booksync then writes to QuickBooks. Until then the user makes the deposit in
  QuickBooks with the payments proposed.
- **The search.** Amounts are whole cents (``int``). Candidates are the payments dated on or before the bank
  date (a check cannot reach the bank before it is received), the most recent first, at most ``max_candidates`` of
  them (older ones are left out and counted). A depth-first branch-and-bound over them (take the payment, then
  leave it) prunes a branch when the total passes the amount (amounts are positive) or when even every remaining
  payment cannot reach it, and remembers the branches (next payment, total so far) that held no exact set, so that
  the same branch reached through other payments of the same total (dues of 325.00 paid by many members) is not
  searched again: a dynamic programme over cents, visited only where needed. Each branch visited is one **step**;
  the search stops after ``max_steps`` steps, a bound measured in steps rather than seconds so the same payments
  always give the same answer. Stopped early, the answer
  says so (``complete`` False) and keeps what it found. While it searches it keeps the nearest totals below and
  above the amount, exact for what it visited, to show when no set matches.
- **The preference** among exact sets (:func:`preference`): the set whose oldest payment is the most recent (the
  checks of one trip to the bank were received together, just before it), then the fewest payments, then the
  smallest sum of days before the bank date, then the payments' order (so the choice is deterministic).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, Protocol, Sequence, TypeVar

from booksync.money import CENT, to_money

MAX_CANDIDATES = 40
"""How many payments (the most recent) the search considers at most."""
MAX_STEPS = 1_000_000
"""How many branches the search visits at most (about a second on a loaded 2-core machine; docs/performance.md)."""


class Payment(Protocol):
    """What the search needs of a payment: its date and its amount (Decimal, two places, positive)."""

    @property
    def date(self) -> dt.date: ...

    @property
    def amount(self) -> Decimal: ...


P = TypeVar("P", bound=Payment)
VISIT, UNCHOOSE, LEAVE = 0, 1, 2
"""What an entry of the search's stack does: visit a branch, take back its payment, or leave a branch (remembering
it when it held no exact set)."""


@dataclass
class Grouping(Generic[P]):
    """The answer of :func:`group_payments`.

    Attributes:
        amount: the bank line's amount; bank_date: its date.
        best: the preferred exact set, the most recent payment first, or None when no set was found.
        others: how many other exact sets were found (a lower bound when ``complete`` is False).
        complete: the search visited every branch it had to (False: it stopped at ``max_steps``).
        steps: branches visited.
        candidates: payments searched; older_left_out: payments on or before the bank date left out by
            ``max_candidates`` (the oldest); later_left_out: payments dated after the bank date.
        nearest_below, nearest_above: the totals closest to the amount below and above it among the sets visited
            (None when there is none), meaningful when ``best`` is None.
    """

    amount: Decimal
    bank_date: dt.date
    best: tuple[P, ...] | None = None
    others: int = 0
    complete: bool = True
    steps: int = 0
    candidates: int = 0
    older_left_out: int = 0
    later_left_out: int = 0
    nearest_below: Decimal | None = None
    nearest_above: Decimal | None = None
    _best_key: tuple = field(default=(), repr=False)

    @property
    def total(self) -> Decimal:
        """The total of ``best`` (0.00 when there is none)."""
        return sum((p.amount for p in self.best or ()), Decimal("0.00"))


def cents(amount: Decimal) -> int:
    """``Decimal("12.34")`` → ``1234``. Raises :class:`booksync.money.MoneyError` for more than two places."""
    return int(to_money(amount) / CENT)


def preference(chosen: Sequence[int], ages: Sequence[int]) -> tuple:
    """The sort key of an exact set (smaller is preferred): given the candidates' indexes chosen (ascending) and each
    candidate's age in days before the bank date, (the oldest age, how many, the sum of ages, the indexes)."""
    chosen_ages = [ages[i] for i in chosen]
    return (max(chosen_ages), len(chosen), sum(chosen_ages), tuple(chosen))


def group_payments(payments: Sequence[P], amount: Decimal, bank_date: dt.date,
                   max_candidates: int = MAX_CANDIDATES, max_steps: int = MAX_STEPS) -> Grouping[P]:
    """The preferred set of ``payments`` whose total is ``amount`` exactly (see the module's docstring).

    ``payments``: anything with ``date`` (datetime.date) and ``amount`` (Decimal, two places); those not positive
    are ignored. ``amount``: positive, two places. Raises ValueError for an amount not positive and
    :class:`booksync.money.MoneyError` for an amount with more than two decimals."""
    target = cents(amount)
    if target <= 0:
        raise ValueError(f"the bank line's amount must be positive, not {amount}")
    usable = [p for p in payments if p.amount > 0]
    on_time = sorted((p for p in usable if p.date <= bank_date), key=lambda p: (bank_date - p.date, -p.amount))
    chosen_from = on_time[:max_candidates]
    result: Grouping[P] = Grouping(to_money(amount), bank_date, candidates=len(chosen_from),
                                   older_left_out=len(on_time) - len(chosen_from),
                                   later_left_out=len(usable) - len(on_time))
    _Search(chosen_from, target, max_steps, result).run()
    return result


class _Search(Generic[P]):
    """The branch-and-bound of :func:`group_payments` over candidates in their order (most recent first)."""

    def __init__(self, candidates: list[P], target: int, max_steps: int, result: Grouping[P]) -> None:
        self.candidates = candidates
        self.amounts = [cents(p.amount) for p in candidates]
        self.ages = [(result.bank_date - p.date).days for p in candidates]
        self.suffix = [sum(self.amounts[i:]) for i in range(len(candidates) + 1)]
        self.target, self.max_steps, self.result = target, max_steps, result
        self.below: int | None = None
        self.above: int | None = None
        self.found = 0

    def run(self) -> None:
        chosen: list[int] = []
        dead: set[tuple[int, int]] = set()  # (next index, total so far) of branches that hold no exact set
        stack: list[tuple[int, int, int, int]] = [(VISIT, 0, 0, 0)]  # (action, next index, total, sets found)
        result = self.result
        while stack:
            action, index, total, found_before = stack.pop()
            if action == UNCHOOSE:
                chosen.pop()
                continue
            if action == LEAVE:
                if self.found == found_before:
                    dead.add((index, total))
                continue
            if result.steps >= self.max_steps:
                result.complete = False
                break
            result.steps += 1
            if total == self.target:
                self._exact(chosen)
                continue
            if total + self.suffix[index] < self.target:  # even every remaining payment falls short
                self._near(total + self.suffix[index])
                continue
            if (index, total) in dead:  # the same branch, reached by other payments of the same total
                continue
            amount = self.amounts[index]
            stack.append((LEAVE, index, total, self.found))
            stack.append((VISIT, index + 1, total, 0))  # then without this payment
            if total + amount > self.target:
                self._near(total + amount)
            else:
                chosen.append(index)
                stack.append((UNCHOOSE, 0, 0, 0))
                stack.append((VISIT, index + 1, total + amount, 0))  # first with it
        result.others = max(self.found - 1, 0)
        result.nearest_below = None if self.below is None else Decimal(self.below) * CENT
        result.nearest_above = None if self.above is None else Decimal(self.above) * CENT

    def _exact(self, chosen: list[int]) -> None:
        self.found += 1
        key = preference(chosen, self.ages)
        if self.result.best is None or key < self.result._best_key:
            self.result.best = tuple(self.candidates[i] for i in chosen)
            self.result._best_key = key

    def _near(self, total: int) -> None:
        if total < self.target and total > 0 and (self.below is None or total > self.below):
            self.below = total
        elif total > self.target and (self.above is None or total < self.above):
            self.above = total
