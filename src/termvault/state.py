"""The multi-terminal app's records: ``SessionState`` (one ``history/*.json`` file),
``WorkspaceState`` (``workspace_state.json``) and ``WorkspaceData`` (one named workspace
of ``workspaces.json``), with the app's field names, defaults and JSON shapes.

``SessionState.output_snapshot`` is a list of lines, as the app saves it. A snapshot
written as one string (by an older writer) is split on ``\\n`` so that
``"\\n".join(snapshot)`` gives the string back; any other item is turned into text, so a
session that parses can always be shown.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import DataError, InvalidIdError
from .fsutil import validate_id


def snapshot_lines(value: Any) -> list[str]:
    """Normalise an ``output_snapshot`` value to a list of lines (see the module doc)."""
    if value is None or value == "" or value is False:
        return []
    if isinstance(value, str):
        return value.split("\n")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").split("\n")
    if isinstance(value, dict) or not isinstance(value, Iterable):
        return [_as_text(value)]
    return [_as_text(item) for item in value]


def _as_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if item is None:
        return ""
    try:
        return json.dumps(item, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(item)


@dataclass
class SessionState:
    """A native session as the multi-terminal app saves it, one JSON object per file
    ``history/{int(modified_at)}_{session_id}.json``. The app's fields in the app's
    order; ``name`` and the times have defaults here (the app always passes them)."""

    session_id: str
    name: str = ""
    working_directory: str = ""
    created_at: float = field(default_factory=time.time)
    modified_at: float = field(default_factory=time.time)
    command_count: int = 0
    last_command: str | None = None
    conversation_file: str | None = None
    output_snapshot: list[str] = field(default_factory=list)
    is_active: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.output_snapshot, list) and all(isinstance(x, str) for x in self.output_snapshot)):
            self.output_snapshot = snapshot_lines(self.output_snapshot)

    @property
    def output_text(self) -> str:
        """The snapshot as one text (lines joined with ``\\n``)."""
        return "\n".join(self.output_snapshot)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2).encode("utf-8")

    def to_app_json(self) -> str:
        """Exactly what the app writes to ``history/`` (``json.dump(asdict(s), indent=2)``)."""
        return json.dumps(asdict(self), indent=2)

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
        except InvalidIdError as exc:  # bad data in a file, not a caller's mistake
            raise DataError(f"{where} has an unusable session_id: {exc}") from exc
        try:
            for key in ("created_at", "modified_at"):
                if key in values:
                    values[key] = float(values[key])
                    if not math.isfinite(values[key]):
                        raise ValueError(f"{key} is not a finite number")
            if "command_count" in values:
                values["command_count"] = int(values["command_count"] or 0)
            for key in ("name", "working_directory"):
                if key in values:
                    values[key] = _as_text(values[key])
            for key in ("last_command", "conversation_file"):
                if values.get(key) is not None:
                    values[key] = _as_text(values[key])
        except (TypeError, ValueError, OverflowError) as exc:
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


def _sessions_from(items: Any) -> list[SessionState]:
    return [SessionState(**s) if isinstance(s, dict) else s for s in (items or [])]


@dataclass
class WorkspaceState:
    """The app's current workspace (``workspace_state.json``): its sessions, the active
    one and the schema version."""

    sessions: list[SessionState] = field(default_factory=list)
    active_session_id: str | None = None
    version: str = "1.0"

    def to_json(self) -> str:
        """JSON text, 2-space indented, as the app writes it."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, json_str: str | bytes) -> WorkspaceState:
        """Parse the app's JSON; malformed JSON raises ``json.JSONDecodeError``, missing or
        mistyped fields ``TypeError``, as the app expects."""
        data = json.loads(json_str)
        if not isinstance(data, dict):
            raise TypeError("workspace state is not a JSON object")
        data = dict(data)
        if data.get("sessions"):
            data["sessions"] = _sessions_from(data["sessions"])
        return cls(**data)


@dataclass
class WorkspaceData:
    """One named workspace snapshot, as stored in ``workspaces.json``."""

    workspace_id: str
    name: str
    sessions: list[SessionState]
    created_at: float
    modified_at: float
    description: str | None = None
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "name": self.name,
            "sessions": [asdict(s) for s in self.sessions],
            "created_at": self.created_at,
            "modified_at": self.modified_at,
            "description": self.description,
            "tags": self.tags,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkspaceData:
        """Rebuild from ``to_dict`` output; a missing required key raises KeyError."""
        return cls(
            workspace_id=data["workspace_id"],
            name=data["name"],
            sessions=_sessions_from(data.get("sessions", [])),
            created_at=data["created_at"],
            modified_at=data["modified_at"],
            description=data.get("description"),
            tags=data.get("tags", []),
        )
