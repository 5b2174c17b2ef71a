"""A G/L account's QuickBooks class (issue 21 item 4): ``gl_accounts.qb_class``, the full name of the class its
billing lines are tracked under ("" = the home's default class, if any).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("gl_accounts", sa.Column("qb_class", sa.String(length=159), nullable=False, server_default=""))


def downgrade() -> None:
    op.execute("ALTER TABLE gl_accounts DROP COLUMN qb_class")
