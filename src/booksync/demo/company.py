"""The lists a new demo company starts with, in QuickBooks Desktop and in the QuickBooks Online double alike.

``STANDARD_CHART`` is the chart of accounts of a membership organisation as QuickBooks Desktop would hold
it after setup: bank accounts, Undeposited Funds, Accounts Receivable, deferred revenue, and income accounts
by programme with membership dues split by tier as subaccounts. Data only: the stand-ins
(:mod:`booksync.simulator.seed`, :mod:`booksync.qbo_double.company`) turn it into their records.
"""
from __future__ import annotations

STANDARD_CHART: list[dict[str, str]] = [
    {"name": "Checking", "type": "Bank", "number": "1000"},
    {"name": "Savings", "type": "Bank", "number": "1010"},
    {"name": "Undeposited Funds", "type": "OtherCurrentAsset", "number": "1499", "special": "UndepositedFunds"},
    {"name": "Accounts Receivable", "type": "AccountsReceivable", "number": "1200",
     "special": "AccountsReceivable"},
    {"name": "Prepaid Expenses", "type": "OtherCurrentAsset", "number": "1400"},
    {"name": "Accounts Payable", "type": "AccountsPayable", "number": "2000", "special": "AccountsPayable"},
    {"name": "Deferred Revenue", "type": "OtherCurrentLiability", "number": "2400"},
    {"name": "Opening Balance Equity", "type": "Equity", "number": "3000", "special": "OpeningBalanceEquity"},
    {"name": "Unrestricted Net Assets", "type": "Equity", "number": "3100", "special": "RetainedEarnings"},
    {"name": "Membership Dues", "type": "Income", "number": "4000"},
    {"name": "Individual", "type": "Income", "number": "4010", "parent": "Membership Dues"},
    {"name": "Small Business", "type": "Income", "number": "4020", "parent": "Membership Dues"},
    {"name": "Corporate", "type": "Income", "number": "4030", "parent": "Membership Dues"},
    {"name": "Chairman's Circle", "type": "Income", "number": "4040", "parent": "Membership Dues"},
    {"name": "Events", "type": "Income", "number": "4100"},
    {"name": "Sponsorships", "type": "Income", "number": "4200"},
    {"name": "Advertising Income", "type": "Income", "number": "4300"},
    {"name": "Certificates of Origin", "type": "Income", "number": "4400"},
    {"name": "Contributions", "type": "Income", "number": "4550"},
    {"name": "Program Service Revenue", "type": "Income", "number": "4900"},
    {"name": "Salaries and Wages", "type": "Expense", "number": "6000"},
    {"name": "Rent Expense", "type": "Expense", "number": "6100"},
    {"name": "Event Expenses", "type": "Expense", "number": "6200"},
    {"name": "Office Supplies", "type": "Expense", "number": "6300"},
]

STANDARD_PAYMENT_METHODS = [("Cash", "Cash"), ("Check", "Check"), ("Visa", "Visa"), ("MasterCard", "MasterCard"),
                            ("American Express", "AmericanExpress"), ("E-Check", "ECheck")]
STANDARD_VENDORS = ["Riverside Office Supply", "City Utilities"]
