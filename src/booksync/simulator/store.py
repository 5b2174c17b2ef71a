"""The simulated company's SQLite schema and low-level access.

Money is kept in integer cents so SQLite sums exactly; :func:`cents` and
:func:`amount` convert at the edges.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lists (
    list_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,            -- Account, ItemService, Customer, Vendor, PaymentMethod
    name_space TEXT NOT NULL,      -- account, item, entity, paymentmethod: names unique within
    name TEXT NOT NULL,
    full_name TEXT NOT NULL,
    parent_id TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    edit_seq TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    account_type TEXT, special TEXT, number TEXT, descr TEXT,
    account_id TEXT,               -- item: the account its sales post to
    company_name TEXT, first_name TEXT, last_name TEXT,
    addr1 TEXT, addr2 TEXT, city TEXT, state TEXT, postal_code TEXT,
    phone TEXT, email TEXT, account_number TEXT, notes TEXT, external_guid TEXT,
    method_type TEXT,
    job_status TEXT                -- customer: JobStatus (a job's; None when not set)
);
CREATE UNIQUE INDEX IF NOT EXISTS lists_name ON lists (name_space, full_name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS txns (
    txn_id TEXT PRIMARY KEY,
    txn_type TEXT NOT NULL,        -- Invoice, CreditMemo, SalesReceipt, ReceivePayment, Deposit
    txn_number INTEGER NOT NULL,
    customer_id TEXT,
    txn_date TEXT NOT NULL,
    due_date TEXT,
    ref_number TEXT,
    memo TEXT,
    total INTEGER NOT NULL DEFAULT 0,
    account_id TEXT,               -- A/R account, or DepositToAccountRef
    method_id TEXT,
    external_guid TEXT,
    check_number TEXT,             -- sales receipt: CheckNumber
    is_voided INTEGER NOT NULL DEFAULT 0,
    edit_seq TEXT NOT NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS txns_customer ON txns (customer_id);
CREATE INDEX IF NOT EXISTS txns_type ON txns (txn_type, txn_date);
CREATE TABLE IF NOT EXISTS lines (
    txn_id TEXT NOT NULL,
    line_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    item_id TEXT, descr TEXT, quantity TEXT, rate TEXT,
    amount INTEGER NOT NULL DEFAULT 0,
    account_id TEXT,
    payment_id TEXT,               -- deposit line: the payment it deposits
    class_id TEXT                  -- sales line: its ClassRef
);
CREATE INDEX IF NOT EXISTS lines_txn ON lines (txn_id);
CREATE INDEX IF NOT EXISTS lines_payment ON lines (payment_id);
CREATE TABLE IF NOT EXISTS applications (
    payment_id TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    credit_memo_id TEXT,           -- NULL: cash applied; else credit applied from this credit memo
    amount INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS apps_payment ON applications (payment_id);
CREATE INDEX IF NOT EXISTS apps_invoice ON applications (invoice_id);
CREATE INDEX IF NOT EXISTS apps_credit ON applications (credit_memo_id);
CREATE TABLE IF NOT EXISTS authorized_apps (app_name TEXT PRIMARY KEY, granted TEXT NOT NULL);
"""


def cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


def amount(value: int | None) -> Decimal:
    return (Decimal(value or 0) / 100).quantize(Decimal("0.01"))


def now_text(clock: dt.datetime | None = None) -> str:
    """QuickBooks sends local time without a UTC offset (reference §4)."""
    return (clock or dt.datetime.now()).replace(microsecond=0).isoformat()


def connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(SCHEMA)
    columns = {r[1] for r in db.execute("PRAGMA table_info(lists)")}
    if "job_status" not in columns:   # a company file made before jobs were kept
        db.execute("ALTER TABLE lists ADD COLUMN job_status TEXT")
    if "class_id" not in {r[1] for r in db.execute("PRAGMA table_info(lines)")}:  # made before classes were kept
        db.execute("ALTER TABLE lines ADD COLUMN class_id TEXT")
    if "check_number" not in {r[1] for r in db.execute("PRAGMA table_info(txns)")}:  # made before sales receipts
        db.execute("ALTER TABLE txns ADD COLUMN check_number TEXT")
    return db
