"""A G/L account's QuickBooks item (issue 21 item 5).

``gl_accounts.qb_item`` names an item the company already has (its full name) that the G/L account's billing
lines use; "" (every existing row) keeps what booksync did before: its own service item per income account.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite and PostgreSQL both take it): a batch copy of gl_accounts would drop the table
    # the billing lines' foreign keys point at.
    op.add_column("gl_accounts", sa.Column("qb_item", sa.String(length=159), nullable=False, server_default=""))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL), for the same reason: no batch copy.
    op.execute("ALTER TABLE gl_accounts DROP COLUMN qb_item")
