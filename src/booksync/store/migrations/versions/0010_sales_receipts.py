"""Sales receipts (issue 21 item 1): sales paid on the spot, with their lines, deposited to a G/L account of a
deposit type (Undeposited Funds or a bank account).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sales_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("deposit_account_id", sa.Integer(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["deposit_account_id"], ["gl_accounts.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index("ix_sales_receipts_member_id", "sales_receipts", ["member_id"])
    op.create_index("ix_sales_receipts_updated_at", "sales_receipts", ["updated_at"])
    op.create_table(
        "sales_receipt_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sales_receipt_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("gl_account_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.String(length=32), nullable=False),
        sa.Column("rate", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["gl_account_id"], ["gl_accounts.id"]),
        sa.ForeignKeyConstraint(["sales_receipt_id"], ["sales_receipts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sales_receipt_lines_sales_receipt_id", "sales_receipt_lines", ["sales_receipt_id"])


def downgrade() -> None:
    op.drop_index("ix_sales_receipt_lines_sales_receipt_id", table_name="sales_receipt_lines")
    op.drop_table("sales_receipt_lines")
    op.drop_index("ix_sales_receipts_updated_at", table_name="sales_receipts")
    op.drop_index("ix_sales_receipts_member_id", table_name="sales_receipts")
    op.drop_table("sales_receipts")
