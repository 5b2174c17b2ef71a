"""The billing store's model of each kind of record, found through the table of kinds (:mod:`booksync.kinds`,
``billing_model``), for services that go over every kind the billing store bills."""
from __future__ import annotations

from booksync.domain import Kind
from booksync.kinds import BILLED_TRANSACTIONS, spec
from booksync.store import models

__all__ = ["BILLED_TRANSACTIONS", "billing_model"]


def billing_model(kind: Kind) -> type:
    """The model of ``kind``'s rows (``Invoice``, ``CreditMemo``, ``Payment``...). Raises AttributeError for a kind
    the billing store holds no rows of (its ``billing_model`` is "")."""
    return getattr(models, spec(kind).billing_model)
