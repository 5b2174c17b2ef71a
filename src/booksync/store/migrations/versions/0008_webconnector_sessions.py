"""The Web Connector's sessions, shared by every process using the billing store (issue 19 item 12).

A ticket issued by one ``booksync serve`` is known to every other sharing the database, and at most one
session per billing store is active (``active`` 1, unique; NULL once ended). See
``booksync/store/connector_sessions.py``.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webconnector_sessions",
        sa.Column("ticket_hash", sa.String(64), primary_key=True),
        sa.Column("user", sa.String(200), nullable=False, server_default=""),
        sa.Column("client", sa.String(100), nullable=False, server_default=""),
        sa.Column("active", sa.Integer, nullable=True),
        sa.Column("phase", sa.String(20), nullable=False, server_default="new"),
        sa.Column("message", sa.Text, nullable=False, server_default=""),
        sa.Column("owner", sa.String(200), nullable=False, server_default=""),
        sa.Column("stop_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("outstanding", sa.String(10), nullable=False, server_default=""),
        sa.Column("requests", sa.Integer, nullable=False, server_default="0"),
        sa.Column("percent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("run_id", sa.String(40), nullable=False, server_default=""),
        sa.Column("result_status", sa.String(20), nullable=False, server_default=""),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("heartbeat", sa.Float, nullable=False),
        sa.UniqueConstraint("active", name="webconnector_sessions_one_active"),
    )


def downgrade() -> None:
    op.drop_table("webconnector_sessions")
