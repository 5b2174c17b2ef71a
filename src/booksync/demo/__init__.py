"""The bundled demo chamber: CSV files of a realistic chamber of commerce's billing."""
