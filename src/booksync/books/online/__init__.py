"""QuickBooks Online: the books port over the Accounting API (REST/JSON, OAuth 2)."""
