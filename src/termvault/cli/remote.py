"""``termvault remote``: the remote tier (S3-compatible object storage, the disk a cache):
``status``, ``push`` and ``pull``."""

from __future__ import annotations

from typing import Any

import click

from ..errors import NotFoundError
from .context import EXIT_PROBLEMS, AppState, pass_state
from .format import (
    home_display,
    human_size,
    key_values,
    local_time,
    plural,
    print_json,
    print_lines,
)
from .params import complete_session_id, json_option, version_option
from .progress import item_progress


@click.group(
    name="remote",
    epilog="""\b
Example:
  termvault remote status
  termvault remote push
  termvault remote pull 3f2a9c

\b
Set it up in config.toml (credentials come from the AWS_* variables or the AWS profile):
  remote = "s3://my-bucket/termvault"
  remote_endpoint = "https://minio.example:9000"   # not for AWS itself
""",
)
def remote_group():
    """Keep archives in S3-compatible object storage; the local disk becomes a cache.

    Each archived version is uploaded under this machine's folder of the bucket and read
    back to check its hash; only then may the storage cap evict its local copy (oldest
    first) instead of deleting anything. Evicted versions are fetched back transparently.
    """


@remote_group.command(
    epilog="""\b
Example:
  termvault remote status
  termvault remote status --offline --json
""",
)
@click.option("--offline", is_flag=True, help="Do not contact the remote; show what the index knows.")
@json_option("the status")
@pass_state
def status(state: AppState, offline: bool, as_json: bool):
    """Where the remote is, what is uploaded, pending and evicted, and which machines
    share the bucket. Exits 1 if the remote cannot be reached."""
    data = state.vault(readonly=True, missing_ok=True).remote_status(check=not offline)
    if as_json:
        print_json(data)
    elif not data["configured"]:
        state.out.print(
            'No remote is configured. Set remote = "s3://bucket/prefix" in config.toml '
            "(and remote_endpoint for MinIO, R2 or GCS).",
            soft_wrap=True,
        )
    else:
        _print_status(state, data)
    if data.get("reachable") is False:
        raise click.exceptions.Exit(EXIT_PROBLEMS)


def _print_status(state: AppState, d: dict[str, Any]) -> None:
    if "reachable" not in d:
        reach = "not checked (--offline)"
    elif d["reachable"]:
        reach = "yes"
    else:
        reach = f"no: {d['error']}"
    cap = d.get("max_total_bytes")
    pairs: list[tuple[str, Any]] = [
        ("Remote", d["remote"]),
        ("Endpoint", d["endpoint"] or "AWS"),
        ("Region", d["region"]),
        ("This machine", d["host"]),
        ("Reachable", reach),
        ("Machines", ", ".join(d.get("hosts") or []) or None),
        (
            "Versions",
            (
                f"{d['versions']} archived here: {d['verified']} verified in the remote, "
                f"{d['pending']} pending, {d['evicted']} evicted"
            ),
        ),
        (
            "Missing",
            (f"{plural(len(d['missing_in_remote']), 'evicted version')} gone from the remote; run `termvault verify`")
            if d.get("missing_in_remote")
            else None,
        ),
        ("Other machines", plural(d["other_hosts_versions"], "version") if d["other_hosts_versions"] else None),
        ("Local cache", human_size(d["local_bytes"]) + (f" (cap {human_size(cap)})" if cap else "")),
        ("In the remote", human_size(d["remote_bytes"])),
    ]
    print_lines(state.out, key_values(pairs))
    if d["pending"]:
        state.out.print("\n`termvault remote push` uploads the pending versions.", soft_wrap=True)


@remote_group.command(
    epilog="""\b
Example:
  termvault remote push
  termvault remote push --json
""",
)
@json_option("the report")
@pass_state
def push(state: AppState, as_json: bool):
    """Upload every archived version not yet verified in the remote, and verify it.

    A sweep does this by itself; run it after a network failure. Nothing is ever
    overwritten in the bucket. Exits 1 if versions are still pending afterwards.
    """
    vault = state.vault()
    with item_progress(state, "Uploading", enabled=not as_json) as progress:
        report = vault.remote_push(progress)
    if as_json:
        print_json(report.to_dict())
    elif not state.quiet:
        if not report.verified and not report.failed:
            state.out.print("Nothing to upload: every archived version is verified in the remote.", soft_wrap=True)
        else:
            state.out.print(
                f"Verified {plural(len(report.verified), 'version')} in the remote "
                f"({plural(len(report.uploaded), 'upload')}, {human_size(report.bytes_uploaded)}).",
                soft_wrap=True,
            )
        for f in report.failed:
            state.out.print(f"  failed  {f.session_id} ({f.path}): {f.reason}", soft_wrap=True)
        if report.pending:
            state.out.print(
                f"{plural(report.pending, 'version')} still pending; their local copies are kept.", soft_wrap=True
            )
    if report.pending:
        raise click.exceptions.Exit(EXIT_PROBLEMS)


@remote_group.command(
    epilog="""\b
Example:
  termvault remote pull 3f2a9c              the newest version, into the local cache
  termvault remote pull 3f2a9c --version 1
  termvault remote pull --all               every evicted or other machine's version
""",
)
@click.argument("session_id", metavar="[ID]", required=False, shell_complete=complete_session_id)
@version_option("Pull")
@click.option("--all", "pull_all", is_flag=True, help="Pull every version whose local copy is absent.")
@pass_state
def pull(state: AppState, session_id: str | None, version: int | None, pull_all: bool):
    """Fetch archived versions from the remote into the local cache, checked by hash.

    Restore, export, show and search do this by themselves when they need a version;
    pull ahead of going offline. Pulled versions are searchable by their text.
    """
    if bool(session_id) == pull_all:
        raise click.UsageError("Give a session ID or --all (not both).")
    vault = state.vault()
    entries = [vault.get(session_id, version)] if session_id else vault.index.remote_only()
    with item_progress(state, "Fetching") as progress:
        fetched = vault.remote_pull(entries, progress)
    if pull_all:
        state.say(f"Fetched {plural(fetched, 'version')} into {home_display(vault.config.archive_dir)}.")
        return
    e = entries[0]
    where = home_display(vault.archive_file(e))
    if not vault.archive_file(e).exists():
        raise NotFoundError(
            f"{e.session_id} (version {e.version}) has no local copy and none in the remote; run `termvault verify`."
        )
    if fetched:
        state.say(
            f"Fetched {e.session_id} (version {e.version}, {human_size(e.size_bytes)}, last active "
            f"{local_time(e.last_activity_at)}) into {where}."
        )
    else:
        state.say(f"{e.session_id} (version {e.version}) is already here: {where}.")
