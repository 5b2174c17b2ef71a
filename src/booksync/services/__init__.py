"""The service layer: what the faces (the command line, the web interface, the Web Connector) call.

Each face turns a service's answer into its own words (terminal, HTML, SOAP); none of them imports another
face or :mod:`booksync.sync` (docs/architecture.md, "Layers"). The modules:

* :mod:`~booksync.services.syncing` — starting a sync: its options from the home's settings and the caller's
  choices (one place), the sync lock, the run itself;
* :mod:`~booksync.services.mapping` — the G/L account cross reference and members' QuickBooks customers;
* :mod:`~booksync.services.runs` — the history of runs, one run's files and journal, undoing a run;
* :mod:`~booksync.services.confirmation` — staging a plan for a person to confirm, and confirming it;
* :mod:`~booksync.services.dashboard`, :mod:`~booksync.services.quickbooks` — what the web's pages read;
* :mod:`~booksync.services.users`, :mod:`~booksync.services.connector_auth`,
  :mod:`~booksync.services.connector_state`, :mod:`~booksync.services.qwc`,
  :mod:`~booksync.services.serving` — who may sign in, the Web Connector's set-up, and serving settings.
"""
