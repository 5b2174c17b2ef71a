"""Links keyed by the billing record's own identity (issue 17 item 11).

A link used to be found by the billing store's row id alone: when a row was deleted outside booksync
and a new record took its id, the new record inherited the old one's QuickBooks customer or
transaction. Each link now keeps ``local_key``: the member number, invoice or credit memo number or
receipt number (with ``kind``, the record's identity); ``local_id`` only says where that record is now
(``store/links.py`` re-anchors it before every sync). Existing links take the number of the row they
point at; a link whose row is already gone takes the number its last journal entry recorded.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = {"customer": "members", "invoice": "invoices", "credit_memo": "credit_memos", "payment": "payments"}


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("local_key", sa.String(40), nullable=False, server_default=""))
    for kind, table in TABLES.items():
        op.execute(f"UPDATE links SET local_key = COALESCE((SELECT number FROM {table} "
                   f"WHERE {table}.id = links.local_id), '') WHERE kind = '{kind}'")
    # Gone already: the number booksync last wrote it under; adjustments are booksync's own records.
    op.execute("UPDATE links SET local_key = COALESCE((SELECT j.number FROM journal j WHERE j.company_key = "
               "links.company_key AND j.kind = links.kind AND j.local_id = links.local_id AND j.number != '' "
               "ORDER BY j.id DESC LIMIT 1), '') WHERE local_key = '' AND kind NOT LIKE 'adjustment%'")
    op.execute("UPDATE links SET local_key = CAST(local_id AS VARCHAR(40)) WHERE local_key = '' "
               "AND kind LIKE 'adjustment%'")
    op.execute("UPDATE links SET local_key = 'row ' || CAST(local_id AS VARCHAR(30)) WHERE local_key = ''")
    op.create_index("links_identity", "links", ["company_key", "kind", "local_key"], unique=True)


def downgrade() -> None:
    op.drop_index("links_identity", table_name="links")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("local_key")
