"""The QuickBooks Web Connector service: booksync's sync engine driven by Intuit's SOAP callbacks.

QuickBooks Web Connector runs beside QuickBooks Desktop on the office PC and polls this service;
each session runs one synchronization, whose qbXML requests the Web Connector carries to
QuickBooks and whose answers it brings back. Modules:

* :mod:`.soap` reads and writes the SOAP of QBWebConnectorSvc.wsdl;
* :mod:`.service` answers the eight callbacks with the guide's return conventions;
* :mod:`.session` and :mod:`.bridge` run the engine in a worker thread per session;
* :mod:`.confirm` stages plans for confirmation by a person, and applies confirmed ones;
* :mod:`.company` checks the company file (FileID) and the qbXML version;
* :mod:`.auth` the Web Connector's user and password; :mod:`.qwc` the .qwc file;
* :mod:`.app` the Starlette application ``booksync serve`` runs.

See docs/webconnector.md.
"""
