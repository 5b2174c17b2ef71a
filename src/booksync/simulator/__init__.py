"""A simulated QuickBooks Desktop company: a SQLite file answering qbXML 13.0.

It behaves as QuickBooks Desktop is documented to (DESIGN.md, "The simulator's
rules"): the embedded default for trying booksync, the peer of every
end-to-end test, and a rehearsal target seeded from a real company's lists.
"""
from booksync.simulator.company import CompanyFile, InUse, create_company, open_company
from booksync.simulator.processor import FileLocked

__all__ = ["CompanyFile", "FileLocked", "InUse", "create_company", "open_company"]
