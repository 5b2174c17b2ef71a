"""Which QuickBooks accounts a G/L account may post to, and suggestions among them.

One rule, used everywhere a cross reference is set or used: ``booksync accounts xref`` (``--set`` and
``--apply-suggestions``), the web page Cross Reference Accounts (the choices offered and the save), the advice
of the sync's checks and ``payments edit``, and the sync's own check before anything is written
(:func:`booksync.sync.checks.check_accounts`). Pure functions over the G/L account's type and the QuickBooks
account's ``AccountType`` (Desktop names; the QuickBooks Online port translates its types to them).

Why the rule matters: an invoice line posts to its G/L account's QuickBooks account through a service item, so
an Income G/L account cross-referenced to a Bank account would raise the bank balance with every invoice; a
payment's deposit account must be one QuickBooks deposits into (Bank or Other Current Asset, such as
Undeposited Funds: QuickBooks refuses others with status 3140, /work/shared/reference/quickbooks-desktop.md
§7 and §9).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

GL_TYPES = ("Income", "Bank", "OtherCurrentAsset", "AccountsReceivable", "OtherCurrentLiability", "Expense",
            "Equity", "OtherIncome", "CostOfGoodsSold", "FixedAsset", "OtherAsset", "LongTermLiability")
"""The G/L account types the billing store knows (the ``type`` column of the gl-accounts import)."""


@dataclass(frozen=True)
class AccountRule:
    """A family of G/L account types and the QuickBooks account types they may cross-reference.

    Attributes:
        name: how messages name the rule, e.g. "income rule".
        gl_types: G/L account types the rule covers.
        qb_types: QuickBooks AccountType values allowed.
        why: one clause a person reads: what posts there.
    """

    name: str
    gl_types: frozenset[str]
    qb_types: tuple[str, ...]
    why: str


RULES: tuple[AccountRule, ...] = (
    AccountRule("income rule", frozenset({"Income", "OtherIncome"}), ("Income", "OtherIncome"),
                "invoice and credit memo lines post their income there"),
    AccountRule("deposit rule", frozenset({"Bank", "OtherCurrentAsset"}), ("Bank", "OtherCurrentAsset"),
                "payments are deposited there, and QuickBooks deposits only into Bank or Other Current Asset "
                "accounts such as Undeposited Funds"),
    AccountRule("liability rule", frozenset({"OtherCurrentLiability", "LongTermLiability"}),
                ("OtherCurrentLiability", "LongTermLiability"),
                "what is owed, such as deferred revenue, stays a liability"),
    AccountRule("receivable rule", frozenset({"AccountsReceivable"}), ("AccountsReceivable",),
                "it is QuickBooks' account of what members owe"),
    AccountRule("expense rule", frozenset({"Expense", "CostOfGoodsSold"}), ("Expense", "OtherExpense",
                                                                             "CostOfGoodsSold"),
                "what it records is spent, not earned or held"),
    AccountRule("equity rule", frozenset({"Equity"}), ("Equity",), "it records net assets"),
    AccountRule("asset rule", frozenset({"FixedAsset", "OtherAsset"}), ("FixedAsset", "OtherAsset"),
                "it records long-lived assets"),
)
_BY_GL_TYPE = {t: rule for rule in RULES for t in rule.gl_types}
DEPOSIT_RULE = RULES[1]
DEPOSIT_GL_TYPES = tuple(sorted(DEPOSIT_RULE.gl_types))
"""G/L account types a payment may deposit to (the importer and ``payments edit`` refuse others)."""


def type_words(account_type: str) -> str:
    """An account type as people write it: "OtherCurrentAsset" → "Other Current Asset"."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", account_type or "(no type)")


def _either(types: Iterable[str]) -> str:
    words = [type_words(t) for t in types]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def rule_for(gl_type: str) -> AccountRule | None:
    """The rule covering a G/L account type, or None for a type the billing store does not know."""
    return _BY_GL_TYPE.get(gl_type or "")


def compatible(gl_type: str, qb_type: str) -> bool:
    """True when a G/L account of ``gl_type`` may cross-reference a QuickBooks account of ``qb_type``."""
    rule = rule_for(gl_type)
    return rule is not None and qb_type in rule.qb_types


def allowed_types(gl_type: str) -> str:
    """The QuickBooks accounts a G/L account of ``gl_type`` may map to, in words ("an Income or Other Income
    account")."""
    rule = rule_for(gl_type)
    return _a(_either(rule.qb_types)) + " account" if rule is not None else "no account until its type is corrected"


def incompatibility(gl: Any, account: Any, named: bool = True) -> str | None:
    """Why G/L account ``gl`` (``number``, ``name``, ``type``) must not cross-reference QuickBooks account
    ``account`` (``full_name``, ``account_type``), naming the rule and both types; None when it may.
    ``named=False`` leaves the G/L account's label out (the message then begins "is of type ...")."""
    if compatible(gl.type, account.account_type):
        return None
    label = f"G/L account {gl.number} {gl.name} " if named else ""
    rule = rule_for(gl.type)
    if rule is None:
        return (f"{label}is of type {gl.type!r}, which booksync does not know, so it cannot post to QuickBooks "
                f"account \"{account.full_name}\" ({type_words(account.account_type)}); correct its type by "
                f"importing it again (gl-accounts: one of {', '.join(GL_TYPES)})")
    return (f"{label}is of type {type_words(gl.type)} and cannot post to QuickBooks account \"{account.full_name}\" "
            f"of type {type_words(account.account_type)}: by the {rule.name} {_a(type_words(gl.type))} G/L account "
            f"maps only to {_a(_either(rule.qb_types))} account ({rule.why})")


def _a(words: str) -> str:
    return ("an " if words[:1].lower() in "aeiou" else "a ") + words


def compatible_accounts(gl_type: str, accounts: Iterable[Any]) -> list[Any]:
    """The active accounts of ``accounts`` a G/L account of ``gl_type`` may cross-reference, in their order."""
    return [a for a in accounts if a.is_active and compatible(gl_type, a.account_type)]


# ---------------------------------------------------------------------- suggestions

STOP_WORDS = frozenset({"a", "an", "and", "the", "of", "for", "to", "in", "on", "at", "by", "with", "or", "from",
                        "s"})
"""Words that say nothing about what an account holds ("Certificates of Origin" and "Cost of Goods Sold"
share only "of")."""
_WORDS = re.compile(r"[a-z0-9]+")


def name_words(name: str) -> frozenset[str]:
    """The words of an account name that carry meaning: lower case, accents removed, parent and child names
    together ("Membership Dues:Corporate"), stop words left out, a plural's "s" dropped ("Sponsorships")."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    out = set()
    for word in _WORDS.findall(folded):
        if word in STOP_WORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return frozenset(out)


def suggest(gl: Any, accounts: Iterable[Any]) -> Any | None:
    """The QuickBooks account to suggest for G/L account ``gl`` (``number``, ``name``, ``type``), or None.

    Only active accounts of a compatible type are considered (:func:`compatible`). The one account with the
    G/L account's number wins; otherwise the one account sharing the most meaningful words with its name
    (:func:`name_words`). No suggestion when nothing shares a word, or when several accounts share as many:
    no suggestion beats a wrong one."""
    candidates = compatible_accounts(gl.type, accounts)
    same_number = [a for a in candidates if a.number and a.number == gl.number]
    if len(same_number) == 1:
        return same_number[0]
    words = name_words(gl.name)
    scored = sorted(((len(words & name_words(a.full_name.replace(":", " "))), i) for i, a in enumerate(candidates)),
                    reverse=True)
    if not scored or scored[0][0] == 0 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return candidates[scored[0][1]]


# ---------------------------------------------------------------------- existing items (issue 21 item 5)

LINE_ITEM_TYPES = ("Service", "NonInventory", "OtherCharge")
"""The QuickBooks item types a billing line may use: each posts the line's amount, and nothing else, to the
income account it names (Desktop: the item's SalesOrPurchase/AccountRef or SalesAndPurchase/IncomeAccountRef,
qbxmlops130.xml ItemServiceRet, ItemNonInventoryRet, ItemOtherChargeRet; Online: Item.IncomeAccountRef, Intuit's
Item page)."""

ITEM_TYPE_WHY = {
    "Inventory": "it would take stock out of inventory and post its cost, which the billing system does not track",
    "InventoryAssembly": "it would take stock out of inventory and post its cost, which the billing system does "
                         "not track",
    # Desktop: InvoiceLineGroupAdd's ItemGroupRef (qbXML schema); Online: GroupLine.
    "Group": "a group goes on an invoice as a group of lines, never as one line with an amount",
    "Bundle": "a bundle goes on an invoice as a group line, never as one line with an amount",
    "Category": "a category only organizes items; QuickBooks Online puts none on a transaction",
    "Subtotal": "a subtotal line adds up the lines above it and carries no amount of its own",
    "Discount": "a discount line takes an amount or percentage off, it does not record income billed",
    "Payment": "a payment line records money received on the invoice, not income billed",
    "SalesTax": "a sales tax line records tax collected, not income billed",
    "SalesTaxGroup": "a sales tax group applies to a whole invoice, never to one line (Intuit's ItemSalesTaxGroupAdd "
                     "page)",
    "FixedAsset": "it records the sale of a fixed asset, not income billed",
}
"""Why a billing line must not use an item of each other type, in a clause a person reads."""


ITEM_TYPE_WORDS = {"NonInventory": "Non-inventory Part", "OtherCharge": "Other Charge",
                   "Inventory": "Inventory Part", "InventoryAssembly": "Inventory Assembly", "SalesTax": "Sales Tax",
                   "SalesTaxGroup": "Sales Tax Group", "FixedAsset": "Fixed Asset"}
"""Item types as QuickBooks' item list names them."""


def item_type_words(kind: str) -> str:
    """An item's type as people read it in QuickBooks: "ItemNonInventory" → "Non-inventory Part"."""
    plain = item_type(kind)
    return ITEM_TYPE_WORDS.get(plain, type_words(plain))


def item_type(kind: str) -> str:
    """An item's type without Desktop's "Item" prefix: "ItemOtherCharge" → "OtherCharge" (Online's Item.Type
    values, "Service", "NonInventory", "Inventory", "Group", "Category", are already so)."""
    return kind[4:] if kind.startswith("Item") and kind != "Item" else kind


def item_refusal(gl: Any, item: Any, account: Any | None) -> str | None:
    """Why the billing lines of G/L account ``gl`` (``number``, ``name``, ``qb_account``) must not use QuickBooks
    item ``item`` (``name``, ``kind``, ``is_active``, ``account_list_id``), given ``account``, the QuickBooks
    account ``gl`` cross-references (``list_id``, ``full_name``; None when it has none); None when they may.

    Three rules: the item is active (QuickBooks refuses an inactive item on a transaction with status 3140,
    /work/shared/reference/quickbooks-desktop.md §7; Online with 610, reference §6), its type is one a billing line
    may use (:data:`LINE_ITEM_TYPES`), and it posts to the cross-referenced account, so that the item mapping
    cannot move income away from where the account cross reference sends it."""
    label = f"QuickBooks item \"{item.name}\""
    if not item.is_active:
        return f"{label} is inactive; QuickBooks refuses inactive items on invoices"
    kind = item_type(item.kind)
    if kind not in LINE_ITEM_TYPES:
        why = ITEM_TYPE_WHY.get(kind, "booksync cannot put it on an invoice line")
        return (f"{label} is {_a(item_type_words(kind))} item and cannot carry a billing line: {why}; choose "
                f"{_a(_either(item_type_words(t) for t in LINE_ITEM_TYPES))} item")
    if account is None:
        return (f"G/L account {gl.number} {gl.name} has no QuickBooks account cross reference, so {label} cannot be "
                "checked against it; set the account cross reference first")
    if item.account_list_id != account.list_id:
        return (f"{label} does not post to QuickBooks account \"{account.full_name}\", the cross reference of G/L "
                f"account {gl.number} {gl.name}, so its income would land elsewhere; choose an item that posts "
                f"there, or change the item's income account in QuickBooks")
    return None


def compatible_items(gl: Any, items: Iterable[Any], account: Any | None) -> list[Any]:
    """The items of ``items`` G/L account ``gl``'s lines may use (:func:`item_refusal` None), in their order."""
    return [i for i in items if item_refusal(gl, i, account) is None]


def suggest_item(gl: Any, items: Iterable[Any], account: Any | None) -> Any | None:
    """The existing item to suggest for G/L account ``gl``, or None: among the items it may use, the one sharing
    the most meaningful words with its name (:func:`name_words`; the G/L number counts as a word, since
    booksync's own items are named "NUMBER NAME"). No suggestion on a tie or when nothing shares a word."""
    candidates = compatible_items(gl, items, account)
    words = name_words(f"{gl.number} {gl.name}")
    scored = sorted(((len(words & name_words(i.name.replace(":", " "))), n) for n, i in enumerate(candidates)),
                    reverse=True)
    if not scored or scored[0][0] == 0 or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return candidates[scored[0][1]]


# ---------------------------------------------------------------------- payment methods (issue 21 item 6)


def method_refusal(billing: str, wanted: str, found: Any | None, create: bool) -> str | None:
    """Why payments of billing payment method ``billing`` must not be written with QuickBooks payment method
    ``wanted`` (``found``: the company's method of that name, ``name`` and ``is_active``, or None); ``create``:
    booksync may create it when missing. None when they may.

    QuickBooks refuses a payment whose PaymentMethodRef names a missing or inactive method (status 3140,
    /work/shared/reference/quickbooks-desktop.md §7; Online 2500 / 610, reference §3.1, §6)."""
    if found is None:
        return None if create else (f"QuickBooks has no payment method named \"{wanted}\" (for billing payment "
                                    f"method \"{billing}\")")
    if not found.is_active:
        return (f"QuickBooks payment method \"{found.name}\" (for billing payment method \"{billing}\") is inactive; "
                "QuickBooks refuses inactive payment methods on payments")
    return None
