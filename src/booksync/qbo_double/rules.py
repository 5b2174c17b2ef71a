"""The QuickBooks Online test double's shared rules: its refusals (:class:`Fault`, as QuickBooks Online sends
them), the entity names it models, account types, and the checks of lengths and amounts every entity uses.
Sources: reference/quickbooks-online.md (section numbers in :mod:`booksync.qbo_double.company`'s docstring).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
NAME_LISTS = ("Customer", "Vendor", "Employee", "Item", "Account", "PaymentMethod", "Class")
TRANSACTIONS = ("Invoice", "CreditMemo", "SalesReceipt", "Payment", "Deposit")
DEPOSITED = ("Payment", "SalesReceipt")
"""Transactions that fund Undeposited Funds and a deposit links (reference/quickbooks-online.md §3.4)."""
ENTITIES = NAME_LISTS + TRANSACTIONS
PEOPLE = ("Customer", "Vendor", "Employee")
QBO_ACCOUNT_TYPES = {
    # Desktop names (simulator's STANDARD_CHART) → QuickBooks Online AccountType, AccountSubType.
    "Bank": ("Bank", "Checking"), "OtherCurrentAsset": ("Other Current Asset", "OtherCurrentAssets"),
    "AccountsReceivable": ("Accounts Receivable", "AccountsReceivable"),
    "AccountsPayable": ("Accounts Payable", "AccountsPayable"),
    "OtherCurrentLiability": ("Other Current Liability", "OtherCurrentLiabilities"),
    "Equity": ("Equity", "OwnersEquity"), "Income": ("Income", "NonProfitIncome"),
    "Expense": ("Expense", "OtherMiscellaneousServiceCost"),
}
CLASSIFICATION = {"Bank": "Asset", "Other Current Asset": "Asset", "Accounts Receivable": "Asset",
                  "Fixed Asset": "Asset", "Other Asset": "Asset", "Accounts Payable": "Liability",
                  "Other Current Liability": "Liability", "Long Term Liability": "Liability",
                  "Credit Card": "Liability", "Equity": "Equity", "Income": "Revenue", "Other Income": "Revenue",
                  "Expense": "Expense", "Other Expense": "Expense", "Cost of Goods Sold": "Expense"}
DEPOSIT_TYPES = ("Bank", "Other Current Asset")
INACTIVE_DETAIL = ("Object Not Found : Something you're trying to use has been made inactive. Check the fields with "
                   "accounts, customers, items, vendors or employees.")
STALE_DETAIL = ("Stale Object Error : You and root were working on this at the same time. root finished before "
                "you did, so your work was not saved.")


class Fault(Exception):
    """A refusal: one or more Errors, an HTTP status (400) and a fault type, as QuickBooks Online sends them."""

    def __init__(self, code: str | int, message: str, detail: str = "", element: str = "", status: int = 400,
                 fault_type: str = "ValidationFault", more: list[dict[str, str]] | None = None) -> None:
        super().__init__(f"{code} {message}")
        self.errors = [{"Message": message, "Detail": detail or message, "code": str(code),
                        **({"element": element} if element else {})}] + list(more or [])
        self.status = status
        self.fault_type = fault_type

    def fault(self) -> dict[str, Any]:
        return {"Error": self.errors, "type": self.fault_type}


def length_errors(fields: list[tuple[str, Any, int]]) -> None:
    """Raise one 2050 Fault listing every field longer than its limit (every error, not only the first)."""
    errors = [{"Message": "String length is either shorter or longer than supported by specification",
               "Detail": f"String length specified does not match the supported length. Min:0 Max:{limit} "
                         f"Supplied length:{len(value)}", "code": "2050", "element": element}
              for element, value, limit in fields if isinstance(value, str) and len(value) > limit]
    if errors:
        first = errors[0]
        raise Fault(2050, first["Message"], first["Detail"], first["element"], more=errors[1:])


def exact_amount(value: Any, element: str) -> Decimal:
    """An amount of a request as an exact two-place Decimal; a float → 2010, more than two decimals → 6000."""
    if isinstance(value, float):  # the double parses with Decimal; a float means a client bug
        raise Fault(2010, "Request has invalid or unsupported property", f"{element} must be exact", element)
    try:
        amount = Decimal(str(value)) if value is not None else Decimal("0")
    except InvalidOperation:
        raise Fault(2010, "Request has invalid or unsupported property", f"{element}: {value!r}", element) from None
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise Fault(6000, "A business validation error has occurred while processing your request",
                    f"Business Validation Error: {element} {value} has more than 2 decimal places.", element)
    return amount.quantize(CENT)


def ref_id(obj: Any) -> str:
    """The Id a reference field names (``{"value": "42"}``), "" when there is none."""
    return str(obj.get("value", "")) if isinstance(obj, dict) else ""
