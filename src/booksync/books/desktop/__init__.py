"""QuickBooks Desktop: the books port over qbXML (request processor, Web Connector, embedded simulator)."""
