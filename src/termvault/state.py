"""``SessionState``: the multi-terminal app's native session record (history/*.json)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import DataError
from .fsutil import validate_id


@dataclass
class SessionState:
    """A native session as the multi-terminal app saves it, one JSON object per file
    ``history/{int(modified_at)}_{session_id}.json``."""

    session_id: str
    name: str = ""
    working_directory: str = ""
    created_at: float = field(default_factory=time.time)
    modified_at: float = field(default_factory=time.time)
    command_count: int = 0
    last_command: str | None = None
    conversation_file: str | None = None
    output_snapshot: str | None = None
    is_active: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2).encode("utf-8")

    @classmethod
    def from_dict(cls, data: Any, where: str = "session") -> SessionState:
        """Build from a decoded JSON object; unknown keys are ignored, bad ones refused
        with a DataError naming ``where``."""
        if not isinstance(data, dict):
            raise DataError(f"{where} does not hold a JSON object.")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "session_id" not in values:
            raise DataError(f"{where} has no session_id.")
        try:
            validate_id(values["session_id"])
            for key in ("created_at", "modified_at"):
                if key in values:
                    values[key] = float(values[key])
                    if not math.isfinite(values[key]):
                        raise ValueError(f"{key} is not a finite number")
            if "command_count" in values:
                values["command_count"] = int(values["command_count"] or 0)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where} has a malformed field ({exc}).") from exc
        return cls(**values)

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "session") -> SessionState:
        try:
            return cls.from_dict(json.loads(data), where)
        except (ValueError, RecursionError) as exc:
            raise DataError(f"{where} is not valid JSON ({exc}).") from exc

    @property
    def history_filename(self) -> str:
        return f"{int(self.modified_at)}_{self.session_id}.json"
