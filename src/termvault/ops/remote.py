"""The remote tier's operations: upload and verify (push), evict local copies down to
the storage cap, fetch evicted units back (pull) and report status. Where units live and
how an evicted one is read back is the archive store's business (``archive.remote``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import archive as arc
from ..archive.objects import ObjectStore, RemoteError, RemoteUnavailableError
from ..archive.remote import RemoteTier, own_key, spec_or_error
from ..errors import DataError, IntegrityError, TermvaultError, UsageError
from ..model import ArchiveEntry
from ..reports import Failure, Progress, PruneReport
from . import deltas
from .context import Context

log = logging.getLogger(__name__)


def tier(ctx: Context) -> RemoteTier:
    """The configured remote tier; UsageError if none is configured."""
    if ctx.remote is None:
        spec_or_error(None)
    assert ctx.remote is not None
    return ctx.remote


@dataclass
class PushReport:
    """What one push did. ``stopped`` says why it ended early (the remote unreachable)."""

    uploaded: list[str] = field(default_factory=list)  # keys written by this push
    verified: list[str] = field(default_factory=list)  # keys read back and matched
    failed: list[Failure] = field(default_factory=list)
    pending: int = 0  # versions still not remote-verified afterwards
    bytes_uploaded: int = 0
    stopped: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "uploaded_count": len(self.uploaded), "verified_count": len(self.verified),
            "failed_count": len(self.failed), "pending_count": self.pending,
            "bytes_uploaded": self.bytes_uploaded, "stopped": self.stopped,
            "seconds": round(self.seconds, 3), "uploaded": self.uploaded, "verified": self.verified,
            "failed": [f.to_dict() for f in self.failed],
        }  # fmt: skip


def push(ctx: Context, progress: Callable[[Progress], None] | None = None) -> PushReport:
    """Upload and verify every pending version (the caller holds the write lock). A unit
    failing on its own is reported and the push goes on; an unreachable remote ends it."""
    tier(ctx)
    started = time.monotonic()
    report = PushReport()
    store = tier(ctx).objects
    # A base goes up before the versions built on it: the bucket never holds a delta
    # whose base it lacks.
    todo = deltas.bases_first(ctx.index.remote_pending())
    total_bytes = sum(e.size_bytes for e in todo)
    done_bytes = 0
    for n, entry in enumerate(todo, start=1):
        ok, message = True, ""
        try:
            _push_one(ctx, store, entry, report)
        except RemoteUnavailableError as exc:
            report.stopped = str(exc)
            report.failed.append(Failure(entry.session_id, entry.archive_path, str(exc), entry.source))
            log.warning("%s", exc)
            break
        except (TermvaultError, OSError) as exc:
            ok, message = False, str(exc)
            report.failed.append(Failure(entry.session_id, entry.archive_path, message, entry.source))
            log.warning("could not upload %s: %s", entry.archive_path, exc)
        done_bytes += entry.size_bytes
        if progress:
            progress(Progress(n, len(todo), done_bytes, total_bytes, entry.session_id, ok, message))
    report.pending = len(ctx.index.remote_pending())
    report.seconds = time.monotonic() - started
    return report


def _push_one(ctx: Context, store: ObjectStore, entry: ArchiveEntry, report: PushReport) -> None:
    path = ctx.store.path(entry)
    key = ctx.index.remote_key(entry.row_id)
    if not path.exists():
        # Known only from the bucket (an index rebuilt without its verifications): check
        # the object against the hash it was indexed with.
        if not key or not entry.archive_sha256:
            raise DataError(
                f"The local copy {entry.archive_path} is missing and was never verified in the "
                "remote; run `termvault verify`."
            )
        sha, size_wanted = entry.archive_sha256, entry.size_bytes
    else:
        key = own_key(store.spec, entry)
        sha = entry.archive_sha256 or arc.sha256_file(path)
        size_wanted = path.stat().st_size
        if store.put_file(key, path, sha):
            report.uploaded.append(key)
            report.bytes_uploaded += size_wanted
        ctx.index.set_remote(entry.row_id, remote_key=key)
    got, size, _ = store.download(key)
    if got != sha or size != size_wanted:
        raise IntegrityError(
            f"{store.spec.display(key)} does not hold the bytes of {entry.archive_path}; it stays "
            "unverified (and the local copy kept) until that object is removed from the bucket."
        )
    ctx.index.set_remote(entry.row_id, remote_verified_at=time.time(), archive_sha256=sha)
    report.verified.append(key)


def push_after_sweep(ctx: Context) -> PushReport | None:
    """The sweep's upload step: failures are logged, never raised (the sweep succeeded)."""
    try:
        report = push(ctx)
    except TermvaultError as exc:
        log.warning("could not upload to the remote: %s", exc)
        return None
    if report.failed:
        log.warning("%d version(s) could not be uploaded; `termvault remote push` retries", len(report.failed))
    return report


def evict(ctx: Context, max_bytes: int | None = None, dry_run: bool = False) -> PruneReport:
    """Free local space down to the cap by removing local copies of remote-verified
    versions, oldest last activity first; pinned sessions stay local. Nothing is deleted
    from the remote or the index. A delta chain is evicted whole (newest version first)
    or not at all, so a local version never needs a base only the remote holds. Each
    object is looked up first: one that is gone or differs is marked unverified and its
    chain's local copies kept. ``pruned`` lists the evicted."""
    limit = ctx.config.max_total_bytes if max_bytes is None else max_bytes
    rows = ctx.index.prunable(local_only=True)
    total = sum(e.size_bytes for e in rows)
    report = PruneReport(limit=limit, total_before=total, total_after=total, dry_run=dry_run)
    if limit is None or total <= limit:
        return report
    groups = deltas.chain_groups(rows)
    groups.sort(key=lambda g: (max(e.last_activity_at or 0.0 for e in g), max(e.version for e in g)))
    unverified = 0
    for group in groups:
        if report.total_after <= limit:
            break
        if any(e.pinned for e in group):
            report.skipped_pinned += len(group)
            continue
        states = [ctx.index.remote_state(e.row_id) for e in group]
        if any(s is None or s["remote_verified_at"] is None or not s["remote_key"] for s in states):
            unverified += len(group)
            continue
        try:  # a dry run looks too (recording nothing), so it names what the real run evicts
            if not _still_in_remote(ctx, group, states, record=not dry_run):
                continue
        except (RemoteError, UsageError) as exc:
            log.warning("stopped evicting: %s", exc)
            break
        if not dry_run:
            for e in group:  # newest first: an interruption leaves every local version its base
                ctx.fault("evict")
                ctx.index.set_remote(e.row_id, local_present=0)
                ctx.store.delete(e)
                log.info("evicted the local copy of %s version %s (%s bytes)", e.session_id, e.version, e.size_bytes)
        for e in group:
            report.pruned.append(e)
            report.total_after -= e.size_bytes
    if unverified and report.total_after > limit:
        log.warning(
            "%d version(s) are not verified in the remote yet and were kept; `termvault remote push` uploads them",
            unverified,
        )
    return report


def _still_in_remote(ctx: Context, group: list[ArchiveEntry], states: list[Any], record: bool = True) -> bool:
    """Whether every object of ``group`` is in the remote as uploaded; one that is not
    is marked unverified (so it is uploaded again; unless not ``record``) and False returned."""
    ok = True
    for e, state in zip(group, states, strict=True):
        obj = tier(ctx).objects.head(state["remote_key"])
        if (
            obj is None
            or obj.size != e.size_bytes
            or (obj.sha256 and e.archive_sha256 and obj.sha256 != e.archive_sha256)
        ):
            log.warning("%s is gone or changed in the remote; its local copy is kept", state["remote_key"])
            if record:
                ctx.index.set_remote(e.row_id, remote_verified_at=None)
            ok = False
    return ok


def pull(ctx: Context, entries: list[ArchiveEntry] | None, progress: Callable[[Progress], None] | None = None) -> int:
    """Fetch the given versions (default: every one kept only in the remote) into the
    local cache; returns how many were fetched."""
    tier(ctx)
    entries = ctx.index.remote_only() if entries is None else entries
    fetched = 0
    for n, e in enumerate(entries, start=1):
        was_local = ctx.store.path(e).exists()
        # A version stored as a delta comes with its whole chain (each link fetched).
        ctx.store.local(e)
        ctx.store.chain(e)
        fetched += not was_local and ctx.store.path(e).exists()
        if progress:
            progress(Progress(n, len(entries), session_id=e.session_id))
    return fetched


def status(ctx: Context, check: bool = True) -> dict[str, Any]:
    """Settings, counts from the index and (``check``) whether the bucket answers and
    which hosts write to it. Never raises for an unreachable remote: it is reported."""
    if ctx.remote is None:
        return {"configured": False}
    spec = ctx.remote.spec
    out: dict[str, Any] = {
        "configured": True,
        "remote": spec.display(),
        "host": spec.host,
        "endpoint": spec.endpoint,
        "region": spec.region,
        **ctx.index.remote_counts(),
        "pending": len(ctx.index.remote_pending()),
        "max_total_bytes": ctx.config.max_total_bytes,
    }
    if check:
        try:
            out["hosts"] = ctx.remote.objects.hosts()
            out["reachable"], out["error"] = True, None
            # A version kept only in the bucket is verified only while its object is there.
            gone = [
                e for e in ctx.index.evicted() if ctx.remote.objects.head(ctx.index.remote_key(e.row_id) or "") is None
            ]
            out["missing_in_remote"] = [e.archive_path for e in gone]
            states = [ctx.index.remote_state(e.row_id) for e in gone]
            out["verified"] -= sum(1 for s in states if s is not None and s["remote_verified_at"])
        except RemoteError as exc:
            out["reachable"], out["error"], out["hosts"] = False, str(exc), []
    return out


def check_remote_copy(ctx: Context, entry: ArchiveEntry, read_data: bool = False) -> str | None:
    """What is wrong with the bucket's copy of a version kept only there, or None: the
    object must exist with the size and sha256 recorded (and, with ``read_data``, its
    bytes must hash to that sha256). An unreachable remote is a problem too: the version
    cannot be shown to exist."""
    key = ctx.index.remote_key(entry.row_id)
    if ctx.remote is None or not key:
        return "kept only in the remote tier, which is not configured here"
    store = ctx.remote.objects
    try:
        found = store.head(key)
        if found is None:
            return f"its only copy, {ctx.remote.spec.display(key)}, is gone from the remote"
        if entry.size_bytes and found.size != entry.size_bytes:
            return f"{ctx.remote.spec.display(key)} holds {found.size} bytes, not the {entry.size_bytes} archived"
        if found.sha256 and entry.archive_sha256 and found.sha256 != entry.archive_sha256:
            return f"{ctx.remote.spec.display(key)} records another sha256 than the archived version"
        if read_data:
            sha, _size, _attrs = store.download(key)
            if entry.archive_sha256 and sha != entry.archive_sha256:
                return f"{ctx.remote.spec.display(key)} is damaged: its bytes do not match their sha256"
    except (RemoteError, DataError) as exc:
        return f"the remote copy could not be checked: {exc}"
    return None
