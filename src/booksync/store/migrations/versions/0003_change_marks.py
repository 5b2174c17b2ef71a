"""Change marks: incremental change detection that does not read the whole history.

``sync_marks`` keeps, per company, the time up to which every billing record was
examined; ``sync_outstanding`` the records examined then that still needed
synchronizing. A run looks only at records changed after the mark plus the
outstanding ones (issue 10, docs/architecture.md "Change marks").

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_marks",
        sa.Column("company_key", sa.String(64), primary_key=True),
        sa.Column("checked_through", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False, server_default=""),
    )
    op.create_table(
        "sync_outstanding",
        sa.Column("company_key", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("local_id", sa.Integer(), primary_key=True),
    )
    # Statistics let SQLite's planner start from the small side of joins (docs/performance.md finding 1).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ANALYZE")


def downgrade() -> None:
    op.drop_table("sync_outstanding")
    op.drop_table("sync_marks")
