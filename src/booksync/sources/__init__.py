"""Billing sources: where members and money records come from (the source port and its adapters)."""
