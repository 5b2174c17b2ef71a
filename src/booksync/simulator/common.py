"""Constants and the refusal shared by the simulator's request handlers (see :mod:`.processor`)."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from booksync.qbxml import build

HRESULT_PARSE = 0x80040400
PARSE_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."
AMOUNT_RE = re.compile(r"^[+-]?[0-9]{1,13}(\.[0-9]{2})?$")
BANK_LIKE = ("Bank", "OtherCurrentAsset")
TXN_RET = {"Invoice": "InvoiceRet", "CreditMemo": "CreditMemoRet", "SalesReceipt": "SalesReceiptRet",
           "ReceivePayment": "ReceivePaymentRet", "Deposit": "DepositRet"}
DEPOSITED_TYPES = ("ReceivePayment", "SalesReceipt")
"""Transactions a deposit line takes out of Undeposited Funds (DepositLineAdd PaymentTxnID)."""
ITEM_KINDS = ("ItemService", "ItemNonInventory", "ItemOtherCharge", "ItemGroup")
"""The item types the simulator holds (ItemQuery answers each with its own Ret: qbxmlops130.xsd ItemQueryRs)."""
LINE_ITEM_KINDS = ("ItemService", "ItemNonInventory", "ItemOtherCharge")
"""The item types an InvoiceLineAdd / CreditMemoLineAdd ItemRef may name here. A group is not one of them: the
qbXML schema puts a group on a sale through InvoiceLineGroupAdd's ItemGroupRef, and QuickBooks' ItemRef lookup on
a line answers 3140 for an item it cannot use there (/work/shared/reference/quickbooks-desktop.md §7, 3140: "missing,
inactive or wrong-type customer/item/account")."""
_UNSET: Any = object()
# The name space each kind of list entry is created in (``lists.name_space``): a FullName lookup
# names it so that SQLite can use the lists_name index instead of reading the whole list table.
NAME_SPACE = {"Account": "account", "ItemService": "item", "ItemNonInventory": "item", "ItemOtherCharge": "item",
              "ItemGroup": "item", "Customer": "entity", "Vendor": "entity", "PaymentMethod": "paymentmethod",
              "Class": "class"}


def _name_spaces(kinds: tuple[str, ...]) -> tuple[str, ...] | None:
    """The name spaces of ``kinds`` (None when one is not known: no narrowing then)."""
    spaces = [NAME_SPACE.get(k) for k in kinds]
    if not spaces or None in spaces:
        return None
    return tuple(dict.fromkeys(spaces))


class Refusal(Exception):
    """A request QuickBooks refuses with a status code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_aggregate = build.aggregate  # answers are built as requests are: children in schema order


def _d(value: str, what: str) -> Decimal:
    if not AMOUNT_RE.match(value or ""):
        raise Refusal(3040, f'There is an invalid amount "{value}" in the {what} field.')
    return Decimal(value)
