"""qbXML: build request message sets in schema order, parse responses, map status codes.

Only builds and parses; knows nothing of the billing store or the sync engine.
"""
