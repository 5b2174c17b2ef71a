"""booksync's domain records, declared in one place.

Three families:

* what the engine reads from QuickBooks (``QB*``): the chart of accounts, items,
  customers and names, as the books port reports them;
* neutral payloads (``*Data``): what booksync wants a QuickBooks record to hold,
  independent of qbXML or JSON; the books port turns them into its wire format;
* the plan (:class:`Operation`, :class:`Plan`): ordered changes to QuickBooks.

Amounts are ``Decimal`` with two places (see :mod:`booksync.money`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any

from booksync.account_rules import DEPOSIT_RULE

# --------------------------------------------------------------------------- QuickBooks side

BANK_LIKE = frozenset(DEPOSIT_RULE.qb_types)
"""Account types a payment may be deposited to (reference/quickbooks-desktop.md §9, 3140): the deposit rule of
:mod:`booksync.account_rules`."""


@dataclass(frozen=True)
class QBCompany:
    """The company file booksync is connected to.

    Attributes:
        name: CompanyRet/CompanyName.
        closing_date: AccountingPreferences/ClosingDate, or None when no closing date is set.
        product: HostRet/ProductName (e.g. "QuickBooks Pro 2024 (simulated)").
        qbxml_versions: SupportedQBXMLVersion values, e.g. ("13.0",).
        first_fiscal_month: FirstMonthFiscalYear name, e.g. "January".
    """

    name: str
    closing_date: dt.date | None = None
    product: str = ""
    qbxml_versions: tuple[str, ...] = ()
    first_fiscal_month: str = "January"
    uses_classes: bool = False
    """The company tracks classes: Desktop AccountingPreferences/IsUsingClassTracking (PreferencesQuery), Online
    Preferences AccountingInfoPrefs.ClassTrackingPerTxnLine (issue 21 item 4)."""


@dataclass(frozen=True)
class QBAccount:
    """One account of the QuickBooks chart of accounts.

    Attributes:
        list_id: ListID.
        full_name: FullName, parent and child joined with ":" (e.g. "Membership Dues:Corporate").
        account_type: AccountType, e.g. "Income", "Bank", "OtherCurrentAsset".
        number: AccountNumber, or "" when the company does not number accounts.
        special: SpecialAccountType, e.g. "UndepositedFunds", or "".
        is_active: IsActive.
        balance: Balance in the company's currency; None when read without balances
            (``snapshot(balances=False)``, what a sync does).
    """

    list_id: str
    full_name: str
    account_type: str
    number: str = ""
    special: str = ""
    is_active: bool = True
    balance: Decimal | None = Decimal("0.00")

    @property
    def holds_deposits(self) -> bool:
        """True when QuickBooks accepts this account as a payment's DepositToAccountRef."""
        return self.account_type in BANK_LIKE


@dataclass(frozen=True)
class QBListEntry:
    """An item, payment method, vendor or other name: what the engine needs is its ListID and name."""

    list_id: str
    name: str
    kind: str
    is_active: bool = True
    account_list_id: str = ""


@dataclass(frozen=True)
class QBCustomer:
    """A QuickBooks customer.

    Attributes:
        list_id: ListID.
        name: Name (at most 41 characters); FullName equals Name for top-level customers.
        full_name: FullName.
        edit_sequence: EditSequence, changed by QuickBooks on every modification.
        balance: Balance (open balance of this customer alone); None when the snapshot was read without
            balances (``snapshot(balances=False)``, what a sync does).
        is_active: IsActive.
        account_number: AccountNumber (booksync writes the member number there).
    """

    list_id: str
    name: str
    full_name: str
    edit_sequence: str
    balance: Decimal | None = Decimal("0.00")
    is_active: bool = True
    account_number: str = ""


@dataclass
class QBSnapshot:
    """What the engine read from QuickBooks at the start of a run.

    ``customers`` and ``other_names`` (vendors, employees) hold every one when ``complete`` (reports, the web,
    mapping commands); a sync reads the snapshot without them and then only the customers and names its run
    needs (``BooksPort.find_customers``, ``Run.read_customers``): then ``complete`` is False."""

    company: QBCompany
    accounts: list[QBAccount]
    items: list[QBListEntry]
    payment_methods: list[QBListEntry]
    customers: list[QBCustomer]
    other_names: list[QBListEntry]
    complete: bool = True
    classes: list[QBListEntry] = field(default_factory=list)
    """The company's classes (full names), active or not."""

    def account_by_name(self) -> dict[str, QBAccount]:
        return {a.full_name.casefold(): a for a in self.accounts}

    def names_in_use(self) -> dict[str, str]:
        """Names QuickBooks keeps unique across customers, vendors, employees and
        other names (status 3100), casefolded, mapped to the ListID holding them."""
        names = {c.full_name.casefold(): c.list_id for c in self.customers}
        names.update({n.name.casefold(): n.list_id for n in self.other_names})
        return names


# --------------------------------------------------------------------------- neutral payloads


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference from one record to another.

    Either ``remote_id`` is known (the ListID/TxnID in QuickBooks), or the record
    is created earlier in the same run and is named by ``kind`` and ``local_id``;
    the books port resolves it when the operation is sent. ``name`` is for people.
    """

    kind: str
    local_id: int | None = None
    remote_id: str | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class Address:
    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""


@dataclass(frozen=True, slots=True)
class CustomerData:
    """A QuickBooks customer as booksync writes it (CustomerAdd/CustomerMod)."""

    name: str
    company_name: str = ""
    first_name: str = ""
    last_name: str = ""
    address: Address = Address()
    phone: str = ""
    email: str = ""
    account_number: str = ""
    is_active: bool = True
    external_guid: str = ""
    notes: str = ""
    """The originals of values QuickBooks could not store as they were (see FieldFitter.notes)."""


@dataclass(frozen=True, slots=True)
class ItemData:
    """A service item whose sales post to ``account`` (ItemServiceAdd)."""

    name: str
    description: str
    account: Ref


@dataclass(frozen=True, slots=True)
class PaymentMethodData:
    """A payment method (PaymentMethodAdd). ``method_type`` is qbXML PaymentMethodType."""

    name: str
    method_type: str


@dataclass(frozen=True, slots=True)
class LineData:
    """One invoice or credit memo line: ``amount`` = ``quantity`` × ``rate``. ``class_ref``: the QuickBooks class
    the line is tracked under (ClassRef; issue 21 item 4), None for none."""

    item: Ref
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    class_ref: Ref | None = None


@dataclass(frozen=True, slots=True)
class SalesData:
    """An invoice or a credit memo (InvoiceAdd / CreditMemoAdd)."""

    customer: Ref
    date: dt.date
    ref_number: str
    lines: tuple[LineData, ...]
    due_date: dt.date | None = None
    memo: str = ""
    external_guid: str = ""

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True, slots=True)
class SalesReceiptData:
    """A sales receipt: a sale paid on the spot (SalesReceiptAdd; Online SalesReceipt). Its lines post to income
    through items as an invoice's do; its total goes to ``deposit_to`` (Undeposited Funds or a bank account,
    the G/L account cross reference decides) instead of Accounts Receivable, so the customer's balance does not
    move. ``method`` is its payment method, ``check_number`` the check number or card confirmation (qbXML
    CheckNumber, at most 25 characters)."""

    customer: Ref
    date: dt.date
    ref_number: str
    lines: tuple[LineData, ...]
    deposit_to: Ref
    method: Ref | None = None
    check_number: str = ""
    memo: str = ""
    external_guid: str = ""

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True, slots=True)
class CreditData:
    """Credit from a credit memo applied to an invoice inside a payment (SetCredit)."""

    credit_memo: Ref
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ApplicationData:
    """A payment applied to an invoice (AppliedToTxnAdd): cash ``amount`` and credits."""

    invoice: Ref
    amount: Decimal
    credits: tuple[CreditData, ...] = ()


@dataclass(frozen=True, slots=True)
class PaymentData:
    """A payment received from a member (ReceivePaymentAdd)."""

    customer: Ref
    date: dt.date
    ref_number: str
    total: Decimal
    method: Ref | None
    deposit_to: Ref
    memo: str = ""
    applications: tuple[ApplicationData, ...] = ()
    external_guid: str = ""


PLACEHOLDER_MEMO = "booksync: holds the place of payment {txn_id} while it is corrected"
"""Memo of the deposit line that stands for a payment taken out of its deposit for a moment."""


def placeholder_payment(memo: str | None) -> str:
    """The TxnID (Id) of the payment a deposit line holds the place of, by its memo (:data:`PLACEHOLDER_MEMO`);
    "" for any other line."""
    prefix, suffix = PLACEHOLDER_MEMO.split("{txn_id}")
    if memo and memo.startswith(prefix) and memo.endswith(suffix) and len(memo) > len(prefix) + len(suffix):
        return memo[len(prefix):len(memo) - len(suffix)]
    return ""


@dataclass(frozen=True)
class DepositLineData:
    """One line of a deposit as booksync sends it in a DepositMod.

    A line to keep as it is has only ``line_id`` (its TxnLineID). A new line has ``line_id``
    "-1" and either ``payment`` (a payment in Undeposited Funds) or ``entity``, ``account``
    and ``amount`` (a line that holds a payment's place while the payment is corrected).
    """

    line_id: str
    payment: Ref | None = None
    entity: Ref | None = None
    account: Ref | None = None
    amount: Decimal | None = None
    memo: str = ""


@dataclass(frozen=True)
class DepositData:
    """The lines a deposit keeps after a DepositMod (every line not listed is removed)."""

    lines: tuple[DepositLineData, ...]


@dataclass(frozen=True)
class QBDepositLine:
    line_id: str
    payment_id: str
    entity_id: str
    account_id: str
    amount: Decimal
    memo: str = ""


@dataclass(frozen=True)
class QBDeposit:
    """A deposit in QuickBooks (DepositRet), for corrections of the payments it holds."""

    txn_id: str
    edit_sequence: str
    date: str
    account_id: str
    account_name: str
    total: Decimal
    lines: tuple[QBDepositLine, ...]


# --------------------------------------------------------------------------- the plan


class Action(str, Enum):
    ADD = "add"
    MOD = "mod"
    VOID = "void"
    DELETE = "delete"


ACTION_WORDS = {"add": "add", "mod": "change", "void": "void", "delete": "delete"}
"""What each :class:`Action` is called where people read it (the plan, runs show, the web)."""


def operation_words(action: str, kind: str | None = None) -> str:
    """An operation named for people, as the web names it: ``operation_words("mod", "deposit")`` and
    ``operation_words("mod deposit")`` give "change deposit"; "add payment_method" gives "add payment method".

    ``action`` is an :class:`Action` value (or a whole plan count key, "<action> <kind>", when ``kind`` is None);
    an unknown action is kept as it is."""
    if kind is None:
        action, _, kind = action.partition(" ")
    action = getattr(action, "value", action)
    kind = getattr(kind, "value", kind)
    return f"{ACTION_WORDS.get(action, action)} {kind.replace('_', ' ')}".strip()


def record_words(kind: str, number: str) -> str:
    """A record named for people: ``record_words("invoice", "INV1")`` gives "invoice INV1". A number that already
    starts with the kind's word (a deposit's journal number is "deposit 2026-01-15") is not given it twice."""
    word = getattr(kind, "value", kind).replace("_", " ")
    number = (number or "").strip()
    if number == word or number.startswith(word + " "):
        return number
    return f"{word} {number}".strip()


class Kind(str, Enum):
    """Kinds of record booksync links between the billing store and QuickBooks."""

    CUSTOMER = "customer"
    ITEM = "item"
    PAYMENT_METHOD = "payment_method"
    INVOICE = "invoice"
    CREDIT_MEMO = "credit_memo"
    SALES_RECEIPT = "sales_receipt"
    PAYMENT = "payment"
    DEPOSIT = "deposit"
    """A deposit made in QuickBooks by its users; booksync changes one only to correct a payment in it."""

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


@dataclass
class Adjustment:
    """A value changed to fit QuickBooks' rules, shown in the plan.

    Attributes:
        record: who it concerns, e.g. "member 1042".
        field: the field, e.g. "customer name".
        original: the billing store's value.
        adjusted: what QuickBooks receives.
        reason: why, e.g. "longer than 41 characters".
    """

    record: str
    field: str
    original: str
    adjusted: str
    reason: str


@dataclass(slots=True)
class Operation:
    """One change to QuickBooks.

    Attributes:
        seq: position in the plan, from 1; also the qbXML requestID.
        action: add, mod, void or delete.
        kind: the record kind.
        local_id: the billing store's row id (for items: the G/L account's id;
            for payment methods: a stable number derived from the method).
        number: the record's number as people know it (invoice number, member number...).
        description: one line for people, e.g. "Invoice INV10001 for Smith & Sons Hardware, 150.00".
        payload: the neutral record (``CustomerData``, ``SalesData`` ...), or None for void/delete.
        remote_id: ListID/TxnID for mod, void and delete.
        edit_sequence: the EditSequence expected in QuickBooks, for mod.
        fingerprint: a digest of the billing record this operation carries, stored in the link table.
    """

    seq: int
    action: Action
    kind: Kind
    local_id: int
    number: str
    description: str
    payload: Any = None
    remote_id: str | None = None
    edit_sequence: str | None = None
    fingerprint: str = ""
    amount: Decimal | None = None
    link_mode: str = "full"
    """How the link table follows a done operation: "full" (remote id, version, what was written),
    "version" (only the EditSequence: a payment's applications released for a moment), "void",
    "deleted", or "adjustment" (a new document in the open period standing for a closed one)."""
    written: str = ""
    """The payload's canonical JSON when the planner computed it with the fingerprint ("" otherwise)."""
    related: tuple[str, int, str, str] | None = None
    """For an adjustment: (kind, local_id, fingerprint, written JSON) of the original it corrects."""
    stamp: "dt.datetime | None" = None
    """The ``updated_at`` of the billing row a new record was planned from (journal ``source_updated_at``),
    set by the planner for adds; corrections find theirs in the run's loaded records."""


@dataclass
class Correction:
    """One correction of a transaction or customer already in QuickBooks, for the Corrections Log.

    Attributes:
        kind: "Invoice", "Credit memo", "Payment" or "Customer".
        number: the record's number.
        member: the member's number and name.
        date: the transaction's date (for a customer: None).
        changes: "field: before -> after" lines.
        action: what booksync does in QuickBooks, in words: "changed", "voided", "deleted", "taken out of the
            deposit, changed, put back into the deposit"...
        past_period: dated before the start of the current accounting period.
        closed: dated on or before QuickBooks' closing date.
        note: anything else the accountant must know (a conflict overwritten, an adjustment).
        amount_before / amount_after: the totals, when the record has one.
        accounts: the G/L accounts the record posts to, before and after (invoice and credit memo lines' items,
            named after their G/L accounts; a payment's deposit account).
    """

    kind: str
    number: str
    member: str
    date: "dt.date | None"
    changes: list[str]
    action: str
    past_period: bool = False
    closed: bool = False
    note: str = ""
    amount_before: Decimal | None = None
    amount_after: Decimal | None = None
    accounts: tuple[str, ...] = ()


@dataclass
class Problem:
    """A reason the run cannot go on, as a person must read it.

    Attributes:
        code: a stable identifier, e.g. "unmapped-account".
        record: the record concerned, e.g. "G/L account 4300 Advertising".
        message: what is wrong.
        fix: what to do about it at the command line (``remedy_cli``: commands and flags).
        fix_web: what to do about it in the web interface (``remedy_web``: pages, options, never a
            command-line flag). Each face shows its own (:meth:`remedy`).
    """

    code: str
    record: str
    message: str
    fix: str = ""
    fix_web: str = ""

    @property
    def remedy_cli(self) -> str:
        return self.fix

    @property
    def remedy_web(self) -> str:
        return self.fix_web

    def remedy(self, face: str) -> str:
        """The remedy for ``face`` ("cli" or "web")."""
        return self.fix_web if face == "web" else self.fix


@dataclass
class Plan:
    """The ordered operations of one run, with what was adjusted to fit QuickBooks.

    A large plan is not held whole: the engine :meth:`take` s the operations planned so far at safe points
    (docs/performance.md "Streaming a full sync"); :meth:`counts`, :meth:`digest` and :attr:`size` still
    cover every operation planned, taken or not."""

    operations: list[Operation] = field(default_factory=list)
    """The operations planned and not yet taken."""
    adjustments: list[Adjustment] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)
    """What the user must know before confirming that changes nothing (records gone from the billing store)."""
    size: int = 0
    """How many operations were planned in all."""
    _taken: dict[str, int] = field(default_factory=dict)
    _hash: Any = None

    def add(self, **kwargs: Any) -> Operation:
        self.size += 1
        op = Operation(seq=self.size, **kwargs)
        self.operations.append(op)
        return op

    def take(self) -> list[Operation]:
        """Hand over the operations planned since the last call; they stay counted in :meth:`counts`,
        :meth:`digest` and :attr:`size`. The caller must not change them afterwards."""
        ops, self.operations = self.operations, []
        if self._hash is None:
            self._hash = hashlib.sha256()
        _digest_into(self._hash, ops)
        for op in ops:
            key = f"{op.action.value} {op.kind.value}"
            self._taken[key] = self._taken.get(key, 0) + 1
        return ops

    def digest(self) -> str:
        """A digest of what the plan would do: equal digests mean the same operations on the same
        records at the same versions (used to check a confirmed plan is still current)."""
        h = self._hash.copy() if self._hash is not None else hashlib.sha256()
        _digest_into(h, self.operations)
        return h.hexdigest()

    def counts(self) -> dict[str, int]:
        """Operations counted by "<action> <kind>", e.g. {"add invoice": 12}, in the order first planned."""
        out = dict(self._taken)
        for op in self.operations:
            key = f"{op.action.value} {op.kind.value}"
            out[key] = out.get(key, 0) + 1
        return out


def _digest_into(h: Any, ops: list[Operation]) -> None:
    for op in ops:
        h.update(f"{op.action.value}|{op.kind.value}|{op.local_id}|{op.fingerprint}|{op.remote_id}|"
                 f"{op.edit_sequence}\n".encode())
