"""An index that answers link anchoring alone (issue 17 item 11).

Before every sync and reconcile, ``store/links.py`` compares each link's row with its key
(``local_id`` -> the row's number = ``local_key``?). Read through the link rows, every comparison walks
the overflow pages of the row's written JSON (``local_key`` comes after it): 136 ms at 12,000 links. From
this covering index alone it is 2.4 ms (docs/performance.md, "Link anchoring").

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("links_anchor", "links", ["company_key", "kind", "local_id", "local_key"])


def downgrade() -> None:
    op.drop_index("links_anchor", table_name="links")
