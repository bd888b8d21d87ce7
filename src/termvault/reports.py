"""Result records returned by the vault's operations (plain data, JSON-friendly)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .model import ArchiveEntry

MB = 1024 * 1024


@dataclass
class Progress:
    """Passed to progress callbacks after each item, failed ones included."""

    done: int
    total: int
    bytes_done: int = 0
    bytes_total: int = 0
    session_id: str = ""
    ok: bool = True
    message: str = ""
    outcome: str = ""  # sweep: "archived", "unchanged" (identical to the newest version) or "failed"
    source: str = ""


@dataclass
class Failure:
    session_id: str
    path: str
    reason: str
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PruneReport:
    """What prune deleted (or, in a dry run, would delete). ``bytes_freed`` counts archive
    bytes on disk (compressed); ``raw_bytes_freed`` the original session bytes they held."""

    limit: int | None
    total_before: int
    total_after: int
    dry_run: bool
    pruned: list[ArchiveEntry] = field(default_factory=list)
    skipped_pinned: int = 0
    skipped_legacy: int = 0  # the older app's .json.gz files are never deleted

    @property
    def pruned_count(self) -> int:
        return len(self.pruned)

    @property
    def bytes_freed(self) -> int:
        return sum(e.size_bytes for e in self.pruned)

    @property
    def raw_bytes_freed(self) -> int:
        return sum(e.original_size_bytes for e in self.pruned)

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit_bytes": self.limit,
            "total_before_bytes": self.total_before,
            "total_after_bytes": self.total_after,
            "dry_run": self.dry_run,
            "pruned_count": self.pruned_count,
            "bytes_freed": self.bytes_freed,
            "raw_bytes_freed": self.raw_bytes_freed,
            "skipped_pinned": self.skipped_pinned,
            "skipped_legacy": self.skipped_legacy,
            "pruned": [
                {
                    "session_id": e.session_id,
                    "version": e.version,
                    "name": e.name,
                    "archive_path": e.archive_path,
                    "size_bytes": e.size_bytes,
                    "last_activity_at": e.last_activity_at,
                }
                for e in self.pruned
            ],
        }


@dataclass
class SweepReport:
    dry_run: bool = False
    archived: list[ArchiveEntry] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    skipped: int = 0  # not due yet, still being written, or unchanged since archived
    unchanged: int = 0  # due, but identical to the newest archived version
    due: list[tuple[str, str, int]] = field(default_factory=list)  # dry run: (source, id, bytes)
    found: dict[str, int] = field(default_factory=dict)  # sessions found per source swept
    identical: list[str] = field(default_factory=list)  # due ids whose files look already archived
    seconds: float = 0.0
    prune: PruneReport | None = None
    source_bytes_freed: int = 0  # raw session bytes removed from their tools (move mode)

    def count_removed(self, n: int) -> None:
        self.source_bytes_freed += n

    @property
    def archive_bytes_freed(self) -> int:
        """Compressed archive bytes that pruning deleted."""
        return self.prune.bytes_freed if self.prune else 0

    @property
    def bytes_freed(self) -> int:
        """Every byte the sweep freed on disk: moved sources plus pruned archives."""
        return self.source_bytes_freed + self.archive_bytes_freed

    @property
    def raw_bytes(self) -> int:
        return sum(e.original_size_bytes for e in self.archived)

    @property
    def compressed_bytes(self) -> int:
        return sum(e.size_bytes for e in self.archived)

    @property
    def ratio(self) -> float | None:
        return (self.raw_bytes / self.compressed_bytes) if self.compressed_bytes else None

    def to_dict(self) -> dict[str, Any]:
        """The seed's keys (archived_count, failed_count, space_saved_mb) and the agent
        multiplexer's (pruned_count, bytes_freed), plus the details."""
        return {
            "archived_count": len(self.archived),
            "failed_count": len(self.failed),
            "skipped_count": self.skipped,
            "unchanged_count": self.unchanged,
            "space_saved_mb": round((self.raw_bytes - self.compressed_bytes) / MB, 2),
            "raw_bytes": self.raw_bytes,
            "compressed_bytes": self.compressed_bytes,
            "ratio": round(self.ratio, 2) if self.ratio else None,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "pruned_count": self.prune.pruned_count if self.prune else 0,
            "bytes_freed": self.bytes_freed,
            "source_bytes_freed": self.source_bytes_freed,
            "archive_bytes_freed": self.archive_bytes_freed,
            "pruned_raw_bytes": self.prune.raw_bytes_freed if self.prune else 0,
            "archived": [
                {
                    "session_id": e.session_id,
                    "version": e.version,
                    "source": e.source,
                    "name": e.name,
                    "archive_path": e.archive_path,
                    "original_size_bytes": e.original_size_bytes,
                    "size_bytes": e.size_bytes,
                }
                for e in self.archived
            ],
            "failed": [f.to_dict() for f in self.failed],
            "due": [
                {"source": s, "session_id": i, "bytes": b, "identical": i in self.identical} for s, i, b in self.due
            ],
            "found_per_source": dict(self.found),
        }


@dataclass
class RestoreResult:
    session_id: str
    version: int
    restored: list[str] = field(default_factory=list)  # paths written
    unchanged: list[str] = field(default_factory=list)  # already present, identical
    set_aside: list[tuple[str, str]] = field(default_factory=list)  # (path, where the old file went)
    notes: list[str] = field(default_factory=list)  # what was done differently, and why

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "version": self.version,
            "restored": self.restored,
            "unchanged": self.unchanged,
            "set_aside": [{"path": p, "kept_as": k} for p, k in self.set_aside],
            **({"notes": self.notes} if self.notes else {}),
        }


@dataclass
class VerifyReport:
    checked: int = 0
    ok: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)  # (archive_path, reason)
    orphaned: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)
    pending_removal: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    # Sources a move-mode sweep set aside and could not put back yet (.tv-held-*).
    stranded: list[str] = field(default_factory=list)
    # Copies kept beside a source whose name a writer took meanwhile; swept as sessions.
    kept: list[str] = field(default_factory=list)
    # Archives claiming a version their session cannot have: (archive path, reason).
    implausible: list[tuple[str, str]] = field(default_factory=list)
    # Versions kept only in the remote tier whose object is gone or damaged: (path, reason).
    remote_missing: list[tuple[str, str]] = field(default_factory=list)
    busy: str = ""  # another process was writing: its work in progress was not judged

    @property
    def clean(self) -> bool:
        return not (
            self.missing
            or self.corrupt
            or self.orphaned
            or self.temp_files
            or self.pending_removal
            or self.stranded
            or self.implausible
            or self.remote_missing
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "checked": self.checked,
            "ok": self.ok,
            "missing": self.missing,
            "corrupt": [{"archive_path": p, "reason": r} for p, r in self.corrupt],
            "orphaned": self.orphaned,
            "temp_files": self.temp_files,
            "pending_removal": self.pending_removal,
            "repaired": self.repaired,
            "stranded": self.stranded,
            "kept": self.kept,
            "implausible": [{"archive_path": p, "reason": r} for p, r in self.implausible],
            "remote_missing": [{"archive_path": p, "reason": r} for p, r in self.remote_missing],
            "writer_busy": self.busy or None,
        }
