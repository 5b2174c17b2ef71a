"""booksync: keep QuickBooks in step with a membership organisation's billing."""

__version__ = "0.1.0"
