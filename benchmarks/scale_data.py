"""Synthetic billing stores for the scale benchmark (benchmarks/scale.py).

:func:`generate` writes, into a migrated billing store, a membership organisation's
history of ``transactions`` invoices, credit memos and payments in the demo chamber's
proportions (``src/booksync/demo/data``):

* about 1.08 lines per invoice (92 % one line, 8 % two), G/L accounts weighted as in
  the demo (small-business dues first, then events, advertising, corporate dues ...);
* credit memos: 2.5 % of the invoices, each against one invoice of the same member;
* payments: 0.85 per invoice, dated 0-45 days after the invoice they pay; about 2 % also
  pay an older unpaid invoice of the same member (1.02 applications per payment; the demo
  has 1.04);
  40 % of the credited invoices are paid with the credit memo's credit applied;
  methods Check / Credit Card / ACH / Cash as in the demo; 98 % deposit to Undeposited
  Funds, 2 % to the checking account;
* members: 0.4 per invoice (the demo's chamber ratio), at most ``MAX_MEMBERS`` (50,000:
  a large association or a provider's client at 1 million transactions);
* the demo's twelve G/L accounts with their QuickBooks cross references.

Rows go in with ``sqlite3`` ``executemany`` in one transaction (no ORM, no CSV
importer), in the exact storage format of the SQLAlchemy models: dates as
``YYYY-MM-DD``, timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff``, money as integer cents,
quantities and rates as decimal text. Everything comes from one seeded
``random.Random``: the same size gives the same store.
"""
from __future__ import annotations

import csv
import datetime as dt
import random
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

MAX_MEMBERS = 50_000
MEMBERS_PER_INVOICE = 0.4
LINES_2_SHARE = 0.08
CREDIT_MEMOS_PER_INVOICE = 0.025
PAYMENTS_PER_INVOICE = 0.85
SECOND_APPLICATION_SHARE = 0.035
CREDIT_APPLIED_SHARE = 0.4
FIRST_DAY = dt.date(2021, 1, 4)
LAST_DAY = dt.date(2025, 12, 19)
STAMP = "%Y-%m-%d %H:%M:%S.%f"

GL_WEIGHTS = {"4020": 542, "4100": 165, "4300": 106, "4030": 106, "4400": 82, "4040": 40, "4200": 25,
              "4010": 19}
DUES = {"4010": ("Individual", 15000), "4020": ("Small Business", 32500), "4030": ("Corporate", 75000),
        "4040": ("Chairman's Circle", 250000)}
METHODS = (("Check", 380), ("Credit Card", 317), ("ACH", 145), ("Cash", 42))
EVENTS = ("Monthly Luncheon", "Business After Hours", "Annual Meeting and Luncheon", "Golf Outing",
          "Legislative Breakfast", "Women in Business Forum", "Young Professionals Mixer")

FIRST = ("Blue", "Keystone", "Riverside", "Summit", "Maple", "Heritage", "Pioneer", "Liberty", "Golden",
         "Silver", "Northern", "Southern", "Eastgate", "Westside", "Cedar", "Oak", "Pine", "Harbor", "Valley",
         "Prairie", "Ridge", "Lakeview", "Stonebridge", "Brookside", "Fairview", "Highland", "Meadow", "Union",
         "Central", "Capital", "Premier", "Gateway", "Sterling", "Crown", "Evergreen", "Willow", "Birch",
         "Copper", "Iron", "Granite", "Aspen", "Magnolia", "Sunrise", "Horizon", "Compass", "Anchor",
         "Beacon", "Lantern", "Main Street", "Market Street", "Miami Valley", "Buckeye", "Gem City",
         "Wright", "Cardinal", "Falcon", "Eagle", "Red Fox", "Heron", "Bluebird")
SECOND = ("Heron", "Animal", "Family", "Creek", "Point", "Park", "Square", "Mill", "Bridge", "Station",
          "Grove", "Hill", "Field", "Works", "House", "Corner", "Landing", "Crossing", "Pointe", "Row",
          "Trail", "Way", "Yard", "Gardens", "Commons", "Harbor", "Springs", "Woods", "Shore", "Plaza",
          "Court", "Lane", "Street", "Avenue", "Place", "Terrace", "Heights", "Knoll", "Glen", "Hollow",
          "Meadows", "Orchard", "Vista", "Summit", "Junction", "Depot", "Forge", "Foundry", "Market",
          "Tower", "Gate", "Haven", "Ridge", "Run", "Ford", "Ferry", "Brook", "Dale", "Vale", "Bay")
THIRD = ("Hardware", "Animal Hospital", "Dental", "Law Group", "Insurance", "Realty", "Senior Living",
         "Bakery", "Auto Repair", "Florist", "Bank", "Credit Union", "Pharmacy", "Accounting", "Plumbing",
         "Electric", "Roofing", "Landscaping", "Printing", "Brewing Co.", "Cafe", "Fitness", "Chiropractic",
         "Veterinary Clinic", "Marketing")
CITIES = (("Dayton", "OH", "454"), ("Kettering", "OH", "454"), ("Centerville", "OH", "454"),
          ("Vandalia", "OH", "453"), ("Beavercreek", "OH", "454"), ("Fairborn", "OH", "453"),
          ("Miamisburg", "OH", "453"), ("Huber Heights", "OH", "454"), ("Xenia", "OH", "453"),
          ("Springfield", "OH", "455"))
FIRST_NAMES = ("Heather", "Stephen", "Marcus", "Linda", "James", "Maria", "David", "Susan", "Robert",
               "Karen", "Michael", "Priya", "Daniel", "Angela", "Thomas", "Nicole", "Kevin", "Laura")
LAST_NAMES = ("Singh", "Jensen", "Shah", "Miller", "Johnson", "Garcia", "Brown", "Davis", "Wilson",
              "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Lee", "Walker", "Hall", "Young")
STREETS = ("National Rd", "E Franklin St", "Warren St", "Far Hills Ave", "Wilmington Pike", "Brown St",
           "Main St", "Salem Ave", "Patterson Blvd", "Springboro Pike")


@dataclass
class Counts:
    """What :func:`generate` wrote."""

    transactions: int
    members: int
    gl_accounts: int
    invoices: int
    invoice_lines: int
    credit_memos: int
    credit_memo_lines: int
    payments: int
    applications: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def split(transactions: int) -> tuple[int, int, int, int]:
    """(invoices, credit memos, payments, members) for a history of ``transactions``."""
    invoices = round(transactions / (1 + CREDIT_MEMOS_PER_INVOICE + PAYMENTS_PER_INVOICE))
    credit_memos = round(invoices * CREDIT_MEMOS_PER_INVOICE)
    payments = transactions - invoices - credit_memos
    members = max(10, min(MAX_MEMBERS, round(invoices * MEMBERS_PER_INVOICE)))
    return invoices, credit_memos, payments, members


def stamp(value: dt.datetime) -> str:
    """A timestamp as SQLAlchemy's SQLite DateTime stores it."""
    return value.strftime(STAMP)


def demo_gl_accounts() -> list[dict[str, str]]:
    data = resources.files("booksync.demo") / "data" / "gl_accounts.csv"
    with resources.as_file(data) as path, open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _cents_text(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def generate(db_path: Path | str, transactions: int, seed: int | None = None) -> Counts:
    """Fill the (migrated, empty) billing store at ``db_path``; see the module docstring."""
    rng = random.Random(transactions if seed is None else seed)
    n_inv, n_cm, n_pay, n_mem = split(transactions)
    db = sqlite3.connect(str(db_path), isolation_level=None)
    db.execute("PRAGMA foreign_keys=OFF")  # consistent by construction; checked by the smoke test's plan
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    try:
        counts = _write(db, rng, transactions, n_inv, n_cm, n_pay, n_mem)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    finally:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    return counts


def _write(db: sqlite3.Connection, rng: random.Random, transactions: int, n_inv: int, n_cm: int, n_pay: int,
           n_mem: int) -> Counts:
    base_stamp = dt.datetime(2021, 1, 1, 8, 0, 0)

    # -- G/L accounts (the demo's, with cross references)
    gl_rows, gl_id = [], {}
    created = stamp(base_stamp)
    for i, row in enumerate(demo_gl_accounts(), start=1):
        gl_rows.append((i, row["number"], row["name"], row["type"], row["qb_account"], created, created))
        gl_id[row["number"]] = i
    db.executemany("INSERT INTO gl_accounts (id, number, name, type, qb_account, created_at, updated_at) "
                   "VALUES (?,?,?,?,?,?,?)", gl_rows)

    # -- members: unique business names from three word lists
    combos = len(FIRST) * len(SECOND) * len(THIRD)
    if n_mem > combos:
        raise ValueError(f"at most {combos} members")
    picks = rng.sample(range(combos), n_mem)
    member_rows = []
    for i, pick in enumerate(picks, start=1):
        a, rest = divmod(pick, len(SECOND) * len(THIRD))
        b, c = divmod(rest, len(THIRD))
        name = f"{FIRST[a]} {SECOND[b]} {THIRD[c]}"
        city, state, zip3 = CITIES[rng.randrange(len(CITIES))]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        slug = "".join(ch for ch in name.lower() if ch.isalnum())[:40]
        status = "active" if rng.random() < 0.9 else "lapsed"
        member_rows.append((i, str(100000 + i), name, name, first, last,
                            f"{rng.randint(100, 9999)} {rng.choice(STREETS)}", "", city, state,
                            f"{zip3}{rng.randint(0, 99):02d}", f"info@{slug}.com",
                            f"(937) 555-{rng.randint(0, 9999):04d}", status, "", created, created))
    db.executemany("INSERT INTO members (id, number, name, company, contact_first, contact_last, address1, "
                   "address2, city, state, postal_code, email, phone, status, qb_customer, created_at, updated_at) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", member_rows)
    del member_rows

    # -- invoices and their lines
    gl_numbers = list(GL_WEIGHTS)
    gl_weights = list(GL_WEIGHTS.values())
    days = (LAST_DAY - FIRST_DAY).days
    inv_rows, line_rows = [], []
    inv_info: list[tuple[int, dt.date, int, int, int]] = []  # member, date, total cents, first gl, first amount
    line_id = 0
    for i in range(1, n_inv + 1):
        date = FIRST_DAY + dt.timedelta(days=(i - 1) * days // max(1, n_inv))
        member = rng.randint(1, n_mem)
        n_lines = 2 if rng.random() < LINES_2_SHARE else 1
        total = 0
        first_gl = first_amount = 0
        for seq in range(1, n_lines + 1):
            number = rng.choices(gl_numbers, gl_weights)[0]
            qty, rate, desc = _line(rng, number, date.year)
            amount = qty * rate
            line_id += 1
            line_rows.append((line_id, i, seq, gl_id[number], desc, str(qty), _cents_text(rate), amount))
            total += amount
            if seq == 1:
                first_gl, first_amount = gl_id[number], amount
        memo = "" if rng.random() < 0.93 else rng.choice(("PO 4471", "Thank you for your membership!",
                                                          "Net 30", "Please remit by the due date"))
        ts = stamp(dt.datetime.combine(date, dt.time(9)) + dt.timedelta(seconds=i % 28800, microseconds=i % 997))
        inv_rows.append((i, f"INV{i:07d}", member, date.isoformat(), (date + dt.timedelta(days=30)).isoformat(),
                         memo, "open", ts, ts))
        inv_info.append((member, date, total, first_gl, first_amount))
        if len(line_rows) >= 50_000:
            _flush(db, inv_rows, line_rows)
    _flush(db, inv_rows, line_rows)
    n_lines_total = line_id

    # -- credit memos: against random invoices, same member, part of the first line
    cm_rows, cm_line_rows = [], []
    cm_of_invoice: dict[int, tuple[int, int, dt.date]] = {}  # invoice -> (credit memo id, cents, date)
    for j, inv in enumerate(sorted(rng.sample(range(1, n_inv + 1), n_cm)), start=1):
        member, date, total, first_gl, first_amount = inv_info[inv - 1]
        cents = max(1, min(total - 1, round(first_amount * rng.choice((0.2, 0.25, 0.5))))) if total > 1 else 1
        cm_date = min(LAST_DAY, date + dt.timedelta(days=rng.randint(0, 30)))
        ts = stamp(dt.datetime.combine(cm_date, dt.time(10)) + dt.timedelta(seconds=j))
        cm_rows.append((j, f"CM{j:07d}", member, cm_date.isoformat(), (cm_date + dt.timedelta(days=30)).isoformat(),
                        f"Re INV{inv:07d}", "open", ts, ts))
        cm_line_rows.append((j, j, 1, first_gl, f"Credit: adjustment of INV{inv:07d}", "1", _cents_text(cents), cents))
        cm_of_invoice[inv] = (j, cents, cm_date)
    db.executemany("INSERT INTO credit_memos (id, number, member_id, date, due_date, memo, status, created_at, "
                   "updated_at) VALUES (?,?,?,?,?,?,?,?,?)", cm_rows)
    db.executemany("INSERT INTO credit_memo_lines (id, credit_memo_id, seq, gl_account_id, description, quantity, "
                   "rate, amount) VALUES (?,?,?,?,?,?,?,?)", cm_line_rows)

    # -- payments: exactly n_pay, spread evenly over the invoices
    method_names = [m for m, _ in METHODS]
    method_weights = [w for _, w in METHODS]
    checking, undeposited = gl_id["1000"], gl_id["1050"]
    pay_rows, app_rows = [], []
    unpaid: dict[int, list[int]] = {}
    pay_id = app_id = 0
    ratio = n_pay / max(1, n_inv)
    for inv in range(1, n_inv + 1):
        member, date, total, _, _ = inv_info[inv - 1]
        if int(inv * ratio) == int((inv - 1) * ratio) or pay_id >= n_pay:
            unpaid.setdefault(member, []).append(inv)
            continue
        pay_id += 1
        apps = []
        credit = cm_of_invoice.get(inv)
        pay_date = date
        if credit is not None and rng.random() < CREDIT_APPLIED_SHARE:
            apps.append((inv, total - credit[1], credit[0], credit[1]))
            pay_date = max(pay_date, credit[2])
        else:
            apps.append((inv, total, None, 0))
        older = unpaid.get(member)
        if older and rng.random() < SECOND_APPLICATION_SHARE / PAYMENTS_PER_INVOICE:
            other = older.pop()
            apps.append((other, inv_info[other - 1][2], None, 0))
        pay_date = min(dt.date(2025, 12, 31), pay_date + dt.timedelta(days=rng.randint(0, 45)))
        method = rng.choices(method_names, method_weights)[0]
        reference = _reference(rng, method)
        ts = stamp(dt.datetime.combine(pay_date, dt.time(14)) + dt.timedelta(seconds=pay_id % 28800,
                                                                             microseconds=pay_id % 991))
        cash = sum(a[1] for a in apps)
        pay_rows.append((pay_id, f"R{pay_id:07d}", member, pay_date.isoformat(), cash, method, reference,
                         checking if rng.random() < 0.02 else undeposited, "", "open", ts, ts))
        for seq, (invoice_id, amount, cm_id, cm_cents) in enumerate(apps, start=1):
            app_id += 1
            app_rows.append((app_id, pay_id, seq, invoice_id, amount, cm_id, cm_cents))
        if len(app_rows) >= 50_000:
            _flush_payments(db, pay_rows, app_rows)
    _flush_payments(db, pay_rows, app_rows)
    return Counts(transactions=n_inv + n_cm + pay_id, members=n_mem, gl_accounts=len(gl_rows), invoices=n_inv,
                  invoice_lines=n_lines_total, credit_memos=n_cm, credit_memo_lines=len(cm_line_rows),
                  payments=pay_id, applications=app_id)


def _line(rng: random.Random, number: str, year: int) -> tuple[int, int, str]:
    """(quantity, rate in cents, description) of one invoice line on G/L account ``number``."""
    if number in DUES:
        tier, rate = DUES[number]
        return 1, rate, f"{year} Annual Membership Dues - {tier}"
    if number == "4100":
        seats = rng.randint(1, 8)
        return seats, 4500, f"{year} {rng.choice(EVENTS)} - {seats} seat{'s' if seats > 1 else ''}"
    if number == "4200":
        return 1, rng.choice((50000, 100000, 250000, 500000)), f"{year} {rng.choice(EVENTS)} sponsorship"
    if number == "4300":
        return 1, rng.choice((15000, 25000, 45000, 90000)), f"{year} Directory advertising"
    qty = rng.randint(1, 10)
    return qty, 2500, f"Certificates of Origin ({qty})"


def _reference(rng: random.Random, method: str) -> str:
    """A check number, the card's last four digits, an ACH trace, or nothing for cash."""
    if method == "Check":
        return str(rng.randint(1001, 99999))
    if method == "Credit Card":
        return f"x{rng.randint(0, 9999):04d}"
    if method == "ACH":
        return f"ACH{rng.randint(100000, 999999)}"
    return ""


def _flush(db: sqlite3.Connection, inv_rows: list, line_rows: list) -> None:
    db.executemany("INSERT INTO invoices (id, number, member_id, date, due_date, memo, status, created_at, "
                   "updated_at) VALUES (?,?,?,?,?,?,?,?,?)", inv_rows)
    db.executemany("INSERT INTO invoice_lines (id, invoice_id, seq, gl_account_id, description, quantity, rate, "
                   "amount) VALUES (?,?,?,?,?,?,?,?)", line_rows)
    inv_rows.clear()
    line_rows.clear()


def _flush_payments(db: sqlite3.Connection, pay_rows: list, app_rows: list) -> None:
    db.executemany("INSERT INTO payments (id, number, member_id, date, amount, method, reference, "
                   "deposit_account_id, memo, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                   pay_rows)
    db.executemany("INSERT INTO applications (id, payment_id, seq, invoice_id, amount, credit_memo_id, "
                   "credit_amount) VALUES (?,?,?,?,?,?,?)", app_rows)
    pay_rows.clear()
    app_rows.clear()
