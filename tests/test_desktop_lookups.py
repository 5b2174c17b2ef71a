"""booksync's Desktop reads survive records deleted or merged in QuickBooks (issue 17, item 13).

QuickBooks answers a lookup naming a ListID it lacks with 3120, a FullName or TxnID with 500, and in both cases
returns none of the records asked with it (simulator/queries.py, with the captures). DesktopBooks splits such a
lookup until the missing values stand alone, so the others are still read.
"""
from __future__ import annotations

from booksync.books.desktop.adapter import DesktopBooks
from booksync.domain import Kind


class Counting:
    def __init__(self, company):
        self.company, self.messages = company, 0

    def process(self, message: bytes) -> bytes:
        self.messages += 1
        return self.company.process(message)


def test_find_customers_reads_the_customers_found_when_one_list_id_and_one_name_are_gone(qb):
    ids = [qb.add_customer(f"Customer {n:02d}").findtext("ListID") for n in range(9)]
    transport = Counting(qb.company)
    books = DesktopBooks(transport)
    customers, _ = books.find_customers(ids + ["80000999-1234567890"], ["Customer 03", "Nobody"])
    assert sorted(c.list_id for c in customers) == sorted(ids)
    assert transport.messages <= 6   # halves of 10 ListIDs and of 2 names, a few queries to a message


def test_transactions_and_versions_skip_a_deleted_txn_id(qb):
    qb.add_item("Dues", "Membership Dues")
    acme = qb.add_customer("Acme").findtext("ListID")
    txn_ids = [qb.sales("Invoice", acme, "10.00", ref=f"INV{n}").raise_for_status().rets[0].findtext("TxnID")
               for n in range(3)]
    books = DesktopBooks(qb.company)
    wanted = txn_ids[:2] + ["FFFF-1234567890"] + txn_ids[2:]
    assert sorted(books.transactions(Kind.INVOICE.value, wanted)) == sorted(txn_ids)
    assert sorted(books.versions(Kind.INVOICE.value, wanted)) == sorted(txn_ids)
