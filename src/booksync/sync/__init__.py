"""The sync engine: read QuickBooks, check, plan, stage, apply with a journal, report.

Pure logic over the billing store, the link table and a books port; it never
builds XML or JSON itself.
"""
