"""How the grouping helper's search (booksync deposits suggest, issue 22 item 5) grows with the candidates.

For each number of candidates N, payments like the demo chamber's (membership dues: most 325.00, some other
amounts), dated one a day before the bank date, and three bank lines: the two most recent payments' total (found at
once), the total of every other payment among the N (found deep in the search), and a total no set reaches (the
search must visit every branch it cannot prune, or stop at its bound). Prints steps, seconds and whether the
search completed. Seeded: the same figures of steps every run; seconds depend on the machine.

    .venv/bin/python benchmarks/deposit_grouping.py [--sizes 10,20,30,40,60] [--max-steps 200000]
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from dataclasses import dataclass
from decimal import Decimal

from booksync.reports.deposit_grouping import group_payments

BANK_DAY = dt.date(2025, 3, 10)


@dataclass(frozen=True)
class Pay:
    date: dt.date
    amount: Decimal


def payments(count: int, seed: int = 22) -> list[Pay]:
    rng = random.Random(seed)
    amounts = ["325.00"] * 6 + ["150.00", "400.00", "750.00", "210.00", "108.00", "916.00", "2500.00", "15.00"]
    return [Pay(BANK_DAY - dt.timedelta(days=i), Decimal(rng.choice(amounts))) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,20,30,40,60")
    parser.add_argument("--max-steps", type=int, default=200_000)
    args = parser.parse_args()
    print("| candidates | bank line | found | complete | steps | seconds |")
    print("|---:|---|---|---|---:|---:|")
    for n in map(int, args.sizes.split(",")):
        pays = payments(n)
        lines = {"two most recent": pays[0].amount + pays[1].amount,
                 "every other one": sum((p.amount for p in pays[::2]), Decimal("0.00")) + Decimal("0.00"),
                 "no set reaches it": Decimal("1000.01")}
        for label, amount in lines.items():
            started = time.perf_counter()
            found = group_payments(pays, amount, BANK_DAY, max_candidates=n, max_steps=args.max_steps)
            seconds = time.perf_counter() - started
            print(f"| {n} | {label} ({amount}) | {'yes' if found.best else 'no'} | "
                  f"{'yes' if found.complete else 'no'} | {found.steps:,} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
