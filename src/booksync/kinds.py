"""The table of record kinds: for each kind of record booksync links, every name it goes by and where it
stands in a plan. Every part that needs per-kind knowledge reads it here (the engine's change marks, the
importer's kinds, the ports' transaction types and entities, reports, the faces' choices).

Adding a kind of record is a row here, its import spec (its columns in :mod:`booksync.sources.layouts`, its
checks in :mod:`booksync.sources.checks`), its payload (:mod:`booksync.domain`), and its renderers in each port
and stand-in; docs/architecture.md "Adding a transaction kind" walks through it.

Names per kind:

* ``label`` / ``plural``: the words the user reads ("credit memo", "credit memos").
* ``import_name``: the kind argument of ``booksync import`` and the CSV/XLSX file's kind ("credit-memos"),
  or "" when it is not imported.
* ``billing_model``: the class of its rows in :mod:`booksync.store.models` ("CreditMemo"), or "" when the
  billing store has no rows of it (QuickBooks' own lists and deposits).
* ``qbxml_type``: QuickBooks Desktop's object type, the stem of its requests (``CreditMemoAdd``,
  ``ReceivePaymentMod``; qbXML 13.0 schema, qbxmlops130.xsd).
* ``online_entity``: QuickBooks Online's entity (Accounting API reference: ``/v3/company/ID/creditmemo``).
* ``transaction``: True for transactions (TxnID, voidable), False for list records (ListID).
* ``voidable``: the billing system voids records of this kind, and booksync voids them in QuickBooks too
  (TxnVoid; TxnVoidType lists Invoice, CreditMemo, SalesReceipt: reference/quickbooks-desktop.md §8; Online:
  reference/quickbooks-online.md "Void"). A payment cannot be voided through the SDK (same §8): it is deleted.
* ``plan_order``: operations are sent in this order of kinds within a plan; a kind comes after every kind
  it ``depends_on`` (a transaction names its customer, items and payment method; a payment applies to
  invoices and credit memos).
"""
from __future__ import annotations

from dataclasses import dataclass

from booksync.domain import Kind


@dataclass(frozen=True)
class KindSpec:
    """One row of the table (see the module docstring for each field)."""

    kind: Kind
    label: str
    plural: str
    import_name: str
    billing_model: str
    qbxml_type: str
    online_entity: str
    transaction: bool
    plan_order: int
    depends_on: tuple[Kind, ...] = ()
    voidable: bool = False


KINDS: tuple[KindSpec, ...] = (
    KindSpec(Kind.CUSTOMER, "customer", "customers", "members", "Member", "Customer", "Customer", False, 10),
    KindSpec(Kind.ITEM, "item", "items", "", "", "ItemService", "Item", False, 20),
    KindSpec(Kind.PAYMENT_METHOD, "payment method", "payment methods", "", "", "PaymentMethod", "PaymentMethod",
             False, 30),
    KindSpec(Kind.INVOICE, "invoice", "invoices", "invoices", "Invoice", "Invoice", "Invoice", True, 40,
             (Kind.CUSTOMER, Kind.ITEM), voidable=True),
    KindSpec(Kind.CREDIT_MEMO, "credit memo", "credit memos", "credit-memos", "CreditMemo", "CreditMemo",
             "CreditMemo", True, 50, (Kind.CUSTOMER, Kind.ITEM), voidable=True),
    # Paid on the spot (event tickets, donations): no invoice, no payment; deposited like a payment.
    KindSpec(Kind.SALES_RECEIPT, "sales receipt", "sales receipts", "sales-receipts", "SalesReceipt",
             "SalesReceipt", "SalesReceipt", True, 55, (Kind.CUSTOMER, Kind.ITEM, Kind.PAYMENT_METHOD),
             voidable=True),
    KindSpec(Kind.PAYMENT, "payment", "payments", "payments", "Payment", "ReceivePayment", "Payment", True, 60,
             (Kind.CUSTOMER, Kind.PAYMENT_METHOD, Kind.INVOICE, Kind.CREDIT_MEMO)),
    # A deposit made in QuickBooks by its users; booksync changes one only to correct a payment in it.
    KindSpec(Kind.DEPOSIT, "deposit", "deposits", "", "", "Deposit", "Deposit", True, 70,
             (Kind.PAYMENT, Kind.SALES_RECEIPT)),
)
"""Every kind, in plan order."""

_BY_KIND = {spec.kind: spec for spec in KINDS}

IMPORT_KINDS: tuple[str, ...] = ("members", "gl-accounts") + tuple(
    s.import_name for s in KINDS if s.import_name and s.transaction)
"""The kinds ``booksync import`` reads, in the order a first import needs them (members and G/L accounts,
which are not QuickBooks records of their own kind, first)."""

BILLING_KINDS: tuple[Kind, ...] = tuple(s.kind for s in KINDS if s.billing_model)
"""Kinds the billing store holds rows of (a run's change marks look at each)."""

BILLED_TRANSACTIONS: tuple[Kind, ...] = tuple(s.kind for s in KINDS if s.billing_model and s.transaction)
"""Transactions booksync carries from the billing store to QuickBooks, in plan order."""

VOIDABLE: tuple[Kind, ...] = tuple(s.kind for s in KINDS if s.voidable)
"""Billed kinds a void in the billing system voids in QuickBooks too (the others are deleted)."""

TRANSACTIONS: tuple[Kind, ...] = tuple(s.kind for s in KINDS if s.transaction)
"""Every transaction kind (those booksync writes and the deposits it keeps intact)."""


def spec(kind: Kind | str) -> KindSpec:
    """The row of ``kind`` (a :class:`Kind` or its value, e.g. "credit_memo"). Raises KeyError for another."""
    return _BY_KIND[Kind(kind)]


def by_import_name(name: str) -> KindSpec:
    """The row whose ``import_name`` is ``name`` (e.g. "credit-memos"). Raises KeyError for another."""
    for row in KINDS:
        if row.import_name == name:
            return row
    raise KeyError(name)


def by_qbxml_type(name: str) -> KindSpec:
    """The row whose QuickBooks Desktop type is ``name`` (e.g. "ReceivePayment"). Raises KeyError."""
    for row in KINDS:
        if row.qbxml_type == name:
            return row
    raise KeyError(name)


def by_online_entity(name: str) -> KindSpec:
    """The row whose QuickBooks Online entity is ``name`` (e.g. "Payment"). Raises KeyError."""
    for row in KINDS:
        if row.online_entity == name:
            return row
    raise KeyError(name)
