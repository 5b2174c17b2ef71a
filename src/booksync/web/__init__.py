"""booksync's web interface: sign-in, dashboard, synchronize, cross reference, members' Bill Info, run history.

:func:`booksync.web.app.create_app` builds the application for a home; docs/web.md explains it.
"""
