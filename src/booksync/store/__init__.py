"""The billing store: the membership system's billing data, plus booksync's link table and journal.

SQLAlchemy 2 models (:mod:`.models`), migrations with Alembic (:mod:`.db`), the write path of billing rows
(:mod:`.write`: the ``updated_at`` invariant). Sources fill it (:mod:`booksync.sources`).
"""
