"""Books ports: what the sync engine needs from an accounting system.

:mod:`.port` declares the interface; :mod:`.desktop` implements it for
QuickBooks Desktop over any qbXML transport (the simulator, the Web Connector,
the Windows request processor).
"""
