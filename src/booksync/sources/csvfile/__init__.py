"""The CSV/XLSX file source: billing records imported from files a membership system exports."""
