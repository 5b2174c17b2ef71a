"""The booksync command line."""
