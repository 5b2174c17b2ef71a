"""Pre-images: what each record a run changes, voids or deletes looked like before the run first touched it, kept
in the run's folder before the message that changes it is sent (``runs/RUN/pre-images.jsonl``). ``booksync runs
undo`` restores from them (:mod:`booksync.sync.undo`)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from booksync.books.port import BooksPort
from booksync.domain import Action, Operation

PRE_IMAGES = "pre-images.jsonl"
"""The file in a run's folder holding the pre-images of the records it changed, voided or deleted."""


class PreImages:
    """The pre-images of one run (its ``folder``); each record's first one counts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._recorded: set[str] = set()
        """ListIDs/TxnIDs whose pre-image this run recorded (the first one counts: before the run touched it)."""

    def record(self, port: BooksPort, batch: list[Operation]) -> None:
        """Before a message changes, voids or deletes records, keep what each looked like before this run first
        touched it, from QuickBooks' own answer to a query (``BooksPort.pre_images``): one JSON line per record in
        :data:`PRE_IMAGES`, written and synced before the message is sent."""
        wanted: dict[str, list[Operation]] = {}
        for op in batch:
            if op.action is not Action.ADD and op.remote_id and op.remote_id not in self._recorded:
                wanted.setdefault(op.kind.value, []).append(op)
        if not wanted:
            return
        lines = []
        for kind, ops in wanted.items():
            found = port.pre_images(kind, sorted({op.remote_id for op in ops}))
            for op in ops:
                if op.remote_id in self._recorded:
                    continue
                self._recorded.add(op.remote_id)
                version, record = found.get(op.remote_id, ("", ""))
                lines.append(json.dumps({"seq": op.seq, "action": op.action.value, "kind": kind,
                                         "local_id": op.local_id, "number": op.number, "remote_id": op.remote_id,
                                         "version": version, "record": record, "found": op.remote_id in found}))
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / PRE_IMAGES, "a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())
