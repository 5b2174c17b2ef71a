"""What the Web Connector service remembers between sessions, in ``webconnector.json`` in the home: the company it
is set up for and the last session. Read and written by the service, shown and cleared by the commands
(``booksync webconnector status``, ``forget-company``).
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "webconnector.json"


@dataclass
class ConnectorState:
    """What the service remembers between sessions (``webconnector.json`` in the home).

    Attributes:
        company_file_id: the FileID of the company booksync works with ("" until the first session).
        company_name: that company's name, for messages.
        company_file: the company file path the Web Connector last reported.
        company_key: the books port's key for that company (the link table's ``company_key``).
        recorded_at: when the FileID was recorded (ISO time).
        last_session: a short record of the last session: {"at", "status", "message", "run_id"}.
    """

    company_file_id: str = ""
    company_name: str = ""
    company_file: str = ""
    company_key: str = ""
    recorded_at: str = ""
    last_session: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Path) -> "ConnectorState":
        path = Path(home) / STATE_FILE
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, home: Path) -> None:
        """Write atomically: a crash leaves the previous state, never half a file."""
        path = Path(home) / STATE_FILE
        fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=".webconnector-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.__dict__, f, indent=2)
        os.replace(tmp, path)
