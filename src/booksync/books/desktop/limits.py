"""QuickBooks Desktop's field limits, read from the qbXML 13.0 schema (``MAX_LENGTH`` of
:mod:`booksync.qbxml.schema`, generated from Intuit's ``qbxmlops130.xsd``; reference/quickbooks-desktop.md §4).
QuickBooks Desktop stores ISO-8859-1 text only (reference §1, "Characters")."""
from __future__ import annotations

from booksync.fields import Limits
from booksync.qbxml.schema import MAX_LENGTH

DESKTOP_LIMITS = Limits(
    customer_name=MAX_LENGTH["CustomerAdd"]["Name"], company_name=MAX_LENGTH["CustomerAdd"]["CompanyName"],
    first_name=MAX_LENGTH["CustomerAdd"]["FirstName"], last_name=MAX_LENGTH["CustomerAdd"]["LastName"],
    address_line=MAX_LENGTH["BillAddress"]["Addr1"], city=MAX_LENGTH["BillAddress"]["City"],
    state=MAX_LENGTH["BillAddress"]["State"], postal_code=MAX_LENGTH["BillAddress"]["PostalCode"],
    phone=MAX_LENGTH["CustomerAdd"]["Phone"], email=MAX_LENGTH["CustomerAdd"]["Email"],
    account_number=MAX_LENGTH["CustomerAdd"]["AccountNumber"], customer_notes=MAX_LENGTH["CustomerAdd"]["Notes"],
    item_name=MAX_LENGTH["ItemServiceAdd"]["Name"], item_description=MAX_LENGTH["SalesOrPurchase"]["Desc"],
    payment_method_name=MAX_LENGTH["PaymentMethodAdd"]["Name"],
    invoice_ref_number=MAX_LENGTH["InvoiceAdd"]["RefNumber"],
    payment_ref_number=MAX_LENGTH["ReceivePaymentAdd"]["RefNumber"], memo=MAX_LENGTH["InvoiceAdd"]["Memo"],
    line_description=MAX_LENGTH["InvoiceLineAdd"]["Desc"], latin1_only=True,
    check_number=MAX_LENGTH["SalesReceiptAdd"]["CheckNumber"])
"""The limits :class:`~booksync.books.desktop.adapter.DesktopBooks` gives the planner."""
