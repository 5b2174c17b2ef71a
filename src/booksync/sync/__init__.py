"""The sync engine: read QuickBooks, check, plan, stage, apply with a journal, report.

Pure logic over the billing store, the link table and a books port; it never
builds XML or JSON itself. :mod:`booksync.sync.run` reads as the run, one call per step;
each step is a module of its own (docs/architecture.md "The run as its steps").
"""
