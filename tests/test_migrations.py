"""The Alembic revisions of the billing store form one line: developers adding revisions in parallel must not
leave two heads (upgrade "head" then refuses to run), and every revision's file name starts with its number."""
from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from booksync.store.db import alembic_config


def test_the_revisions_have_one_head_and_follow_their_file_names():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, f"more than one latest revision: {script.get_heads()}"
    chain = list(script.walk_revisions())  # newest first, along down_revision
    assert len(chain) == len(list(script.revision_map.iterate_revisions("heads", "base")))
    for revision in chain:
        assert Path(revision.path).name.startswith(f"{revision.revision}_"), revision.path
    assert [r.revision for r in reversed(chain)] == sorted(r.revision for r in chain)
