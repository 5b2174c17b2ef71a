"""Journal columns to settle operations whose outcome is unknown after a crash.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("journal") as batch:
        batch.add_column(sa.Column("company_key", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("target_id", sa.String(40), nullable=False, server_default=""))
        batch.add_column(sa.Column("fingerprint", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("written", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("link_mode", sa.String(12), nullable=False, server_default="full"))
        batch.add_column(sa.Column("ref_number", sa.String(40), nullable=False, server_default=""))
        batch.create_index("journal_status", ["status"])


def downgrade() -> None:
    with op.batch_alter_table("journal") as batch:
        batch.drop_index("journal_status")
        for name in ("ref_number", "link_mode", "written", "fingerprint", "target_id", "company_key"):
            batch.drop_column(name)
