"""Payment methods mapped explicitly (issue 21 item 6): billing payment method → the company's payment method.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("payment_method_map",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("name", sa.String(length=40), nullable=False),
                    sa.Column("qb_method", sa.String(length=100), nullable=False),
                    sa.Column("create_missing", sa.Boolean(), nullable=False),
                    sa.PrimaryKeyConstraint("id"),
                    sa.UniqueConstraint("name"))


def downgrade() -> None:
    op.drop_table("payment_method_map")
