"""The billing row's ``updated_at`` each journal entry was planned from.

When an operation is recorded (at once, or when a later run settles it after a crash), the link
table must say which version of the billing row was written: the one planned, not the row as it
is by then (it may have changed again meanwhile, and that change must still be synchronized).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal") as batch:
        batch.add_column(sa.Column("source_updated_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("journal") as batch:
        batch.drop_column("source_updated_at")
