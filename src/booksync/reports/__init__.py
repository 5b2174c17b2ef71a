"""Reports: reconciliation of the billing store against QuickBooks, and the Corrections Log."""
