"""Books ports: what the sync engine needs from an accounting system, one folder per target.

:mod:`.port` declares the interface; :mod:`.registry` opens the port a home's company kind names; :mod:`.desktop`
implements it for QuickBooks Desktop over any qbXML transport (the simulator, the Web Connector, the Windows request
processor) and :mod:`.online` for QuickBooks Online's Accounting API (docs/architecture.md, "Ports and stand-ins").
"""
