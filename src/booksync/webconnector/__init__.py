"""The QuickBooks Web Connector service: booksync's sync engine driven by Intuit's SOAP callbacks.

QuickBooks Web Connector runs beside QuickBooks Desktop on the office PC and polls this service;
each session runs one synchronization, whose qbXML requests the Web Connector carries to
QuickBooks and whose answers it brings back. Modules:

* :mod:`.soap` reads and writes the SOAP of QBWebConnectorSvc.wsdl;
* :mod:`.service` answers the eight callbacks with the guide's return conventions;
* :mod:`.session` and :mod:`.bridge` run the engine in a worker thread per session;
* :mod:`.company` checks the company file (FileID) and the qbXML version;
* :mod:`.app` the SOAP routes, which :mod:`booksync.server` serves beside the web interface.

Shared with the command line and the web, in the service layer: staging plans for confirmation and
confirming them (:mod:`booksync.services.confirmation`), the Web Connector's user and password
(:mod:`booksync.services.connector_auth`), the company it recorded (:mod:`booksync.services.connector_state`)
and the .qwc file (:mod:`booksync.services.qwc`).

See docs/webconnector.md.
"""
