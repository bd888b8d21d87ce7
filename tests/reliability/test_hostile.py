"""Hostile input and decompression bombs.

A tool folder full of malformed, binary, huge, deeply nested, non-UTF-8 and NUL-laden
files, with glob characters and ``..`` in their names and symbolic links leading out of
the tree, is swept by a real ``Vault``, one source at a time. The sweep must not crash,
nothing outside the home and the restore target may change, no symlink target may be
read, a failing session must be reported by name, and every regular file must come back
byte for byte. Archives that expand past ``max_expand_bytes`` are refused on restore and
on export with nothing written.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from termvault import archive as arc
from termvault.errors import DataError, InvalidIdError
from termvault.fsutil import validate_id
from termvault.model import SessionInfo
from termvault.sources import BUILTIN, source_class
from termvault.streams import DiskFile
from termvault.vault import Vault

MARKER = b"MARKER-OUTSIDE-THE-TREE-7f3c9a"
DAY = 86400.0
KINDS = tuple(BUILTIN)  # native, claude-code, codex, gemini, aider, asciinema, agent-log
OLD = time.time() - 3 * DAY


def _deep(n: int) -> bytes:
    return b'{"a":' * n + b"1" + b"}" * n


def hostile_contents(big_line: int = 3 * 1024 * 1024) -> dict[str, bytes]:
    """Named hostile file bodies (each name also exercises an awkward file name)."""
    rng = random.Random(5)
    record = {
        "type": "user",
        "sessionId": "../../etc/passwd",
        "cwd": "../../..",
        "timestamp": 1e308,
        "message": {"role": "user", "content": [{"type": "text", "text": "hi\u0000there"}]},
        "conversation_file": "../../../etc/passwd",
        "session_id": "/abs/../id*?",
    }
    return {
        "truncated-json": b'{"type": "user", "message": {"content": "unfinished',
        "garbage-json": b"}{][\n{]\n,,,\n" * 50,
        "binary": rng.randbytes(64 * 1024),
        "deep-nesting": b"[" * 200_000 + b"]" * 200_000 + b"\n" + _deep(50_000) + b"\n",
        "non-utf8": b'{"type":"user","message":{"content":"\xff\xfe\xc3\x28 caf\xe9"}}\n\xff\xfe\xfd\n',
        "nul-bytes": b"\x00" * 4096 + b'\n{"type":"user","message":{"content":"a\x00b"}}\n\x00\n',
        "lone-surrogates": b'{"type":"user","message":{"content":"\\ud800\\udfff\\udc00"}, "cwd":"\\ud800"}\n',
        "hostile-fields": json.dumps(record).encode() + b"\n",
        "long-line": b'{"type":"user","message":{"content":"' + b"x" * big_line + b'"}}\n',
        "glob*star?q": b'{"type":"user","message":{"content":"star"}}\n',
        "dots..dots": b"plain text with .. inside\n",
        "-dash and space": b"[1, 2, 3]\n",
        os.fsdecode(b"not-utf8-\xff\xfe-name"): b'{"type":"user","message":{"content":"odd name"}}\n',
        "new\nline": b"a name with a line break\n",
    }


# Where each kind looks for its files (relative to the fake $HOME), and how a hostile
# body named ``name`` is laid out for it.
ROOTS = {
    "claude-code": ".claude/projects",
    "codex": ".codex/sessions",
    "gemini": ".gemini/tmp",
    "aider": "projects",
    "asciinema": ".local/share/asciinema",
    "agent-log": "logs",
}


def session_path(kind: str, root: Path, name: str) -> Path:
    if kind == "native":
        return root / f"{int(OLD)}_{name}.json"
    if kind == "claude-code":
        return root / "-home-me-proj" / f"{name}.jsonl"
    if kind == "codex":
        return root / "2025" / "01" / "02" / f"rollout-{name}.jsonl"
    if kind == "gemini":
        return root / "0a1b2c" / "chats" / f"session-{name}.json"
    if kind == "aider":
        return root / name / ".aider.chat.history.md"
    if kind == "asciinema":
        return root / f"{name}.cast"
    return root / f"{name}.log"


@dataclass
class Scene:
    """A scratch root: the termvault home, a fake $HOME with one tool's folder full of
    hostile files, a folder outside everything holding the marker, and a restore target."""

    root: Path
    home: Path
    user: Path
    outside: Path
    restore_to: Path
    kind: str
    tool_root: Path
    files: dict[Path, bytes] = field(default_factory=dict)  # regular hostile files
    links: list[Path] = field(default_factory=list)


def build_scene(base: Path, kind: str, contents: dict[str, bytes], mode: str | None = None) -> Scene:
    home, user, outside = base / "home", base / "user", base / "outside"
    tool_root = home / "history" if kind == "native" else user / ROOTS[kind]
    for d in (home, user, outside, tool_root):
        d.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)
    scene = Scene(base, home, user, outside, base / "restore", kind, tool_root)
    lines = ["settle_seconds = 0", ""]
    if kind != "native":
        lines += [f"[sources.{kind}]", f"roots = [{json.dumps(str(tool_root))}]", f'mode = "{mode or "copy"}"', ""]
    (home / "config.toml").write_text("\n".join(lines))
    for name, data in contents.items():
        path = session_path(kind, tool_root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (OLD, OLD))
        scene.files[path] = data
    # The marker lives outside every tree; links lead to it as a file and as a folder.
    secret = outside / "secret"
    secret.mkdir()
    marker_body = b'{"type":"user","message":{"content":"' + MARKER + b'"}}\n'
    for name in ("marker.jsonl", "marker.json", "marker.cast", "marker.log", ".aider.chat.history.md"):
        (secret / name).write_bytes(marker_body)
    link = session_path(kind, tool_root, "link-to-marker")
    link.parent.mkdir(parents=True, exist_ok=True)
    target = secret / {
        "native": "marker.json",
        "gemini": "marker.json",
        "asciinema": "marker.cast",
        "agent-log": "marker.log",
        "aider": ".aider.chat.history.md",
    }.get(kind, "marker.jsonl")
    link.symlink_to(target)
    scene.links.append(link)
    # A folder link where the source walks folders (a session file beneath it).
    folder_link = session_path(kind, tool_root, "x").parent.parent / "linked-folder"
    if kind != "native" and not folder_link.exists():
        folder_link.parent.mkdir(parents=True, exist_ok=True)
        folder_link.symlink_to(secret, target_is_directory=True)
        scene.links.append(folder_link)
    if kind == "native":
        # A session pointing its transcript at a link out of the tree.
        body = json.dumps(
            {
                "session_id": "points-out",
                "name": "n",
                "working_directory": "/",
                "created_at": OLD,
                "modified_at": OLD,
                "conversation_file": str(link),
            }
        ).encode()
        path = session_path(kind, tool_root, "points-out")
        path.write_bytes(body)
        os.utime(path, (OLD, OLD))
        scene.files[path] = body
    return scene


def discoverable(kind: str, path: Path) -> bool:
    """False for a native history file whose name holds an id termvault refuses."""
    if kind != "native":
        return True
    try:
        validate_id(path.name.split("_", 1)[1][: -len(".json")])
    except InvalidIdError:
        return False
    return True


def snapshot_outside(scene: Scene) -> dict[str, tuple]:
    """Every entry under the scratch root but the home and the restore target."""
    seen = {}
    skip = (scene.home, scene.restore_to)
    for folder, dirs, files in os.walk(scene.root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d not in skip]
        for name in dirs + files:
            p = here / name
            st_ = p.lstat()
            data = os.readlink(p) if p.is_symlink() else (p.read_bytes() if p.is_file() else None)
            seen[str(p)] = (st_.st_mode, st_.st_size, st_.st_mtime_ns, data)
    return seen


def archived_members(vault: Vault) -> dict[str, list[tuple[arc.ManifestFile, bytes]]]:
    out: dict[str, list] = {}
    for e in vault.index.all_rows():
        members: list = []
        arc.read_archive(vault.archive_file(e), lambda f, s, members=members: members.append((f, s.read())))
        out.setdefault(e.session_id, []).extend(members)
    return out


def sweep_and_check(scene: Scene) -> None:
    before = snapshot_outside(scene)
    with Vault(scene.home) as v:
        report = v.sweep(older_than=0, kinds=[scene.kind])
        members = archived_members(v)
        # A failure names its session and its file, with a reason.
        for f in report.failed:
            assert f.session_id and f.path and f.reason.strip(), f
            assert f.source == scene.kind
        # No symlink target was read: the marker is in no archive and not searchable.
        for sid, items in members.items():
            for mf, data in items:
                assert MARKER not in data, f"{sid}/{mf.path} holds the marker: a link was followed"
        assert not v.search(MARKER.decode()), "the marker was indexed: a link was followed"
        # Every regular hostile file is archived, byte for byte, and restores identically.
        by_origin = {mf.origin: (sid, mf, data) for sid, items in members.items() for mf, data in items}
        failed_paths = {f.path for f in report.failed}
        for path, data in scene.files.items():
            if not discoverable(scene.kind, path):
                # A history file whose name carries an unsafe id cannot be archived under
                # it: it stays where it is, untouched.
                assert path.read_bytes() == data and str(path) not in by_origin
                continue
            assert str(path) not in failed_paths, report.failed
            assert str(path) in by_origin, f"{path.name!r} was not archived ({report.failed})"
            assert by_origin[str(path)][2] == data
        for sid in sorted(members):
            target = scene.restore_to / sid
            result = v.restore(sid, to=target)
            for mf, data in members[sid]:
                assert (target / mf.path).read_bytes() == data
            assert result.restored
        for path, data in scene.files.items():
            if not discoverable(scene.kind, path):
                continue
            sid, mf, _ = by_origin[str(path)]
            assert (scene.restore_to / sid / mf.path).read_bytes() == data
    after = snapshot_outside(scene)
    if scene.kind == "native":
        # Move mode: the archived history files (inside the home) are gone; nothing else.
        assert before == after
    else:
        assert before == after, sorted(set(before.items()) ^ set(after.items()))[:5]


# Kinds whose sessions live inside another app's SQLite database, not in a folder of files:
# their hostile-content sweeps run against real databases in tests/sources/.
DATABASE_KINDS = ("agentmux", "wave")
FOLDER_KINDS = tuple(k for k in KINDS if k not in DATABASE_KINDS)


@pytest.mark.parametrize("kind", FOLDER_KINDS)
def test_sweep_of_a_folder_of_hostile_files_archives_each_file_and_reads_no_link(tmp_path, kind):
    sweep_and_check(build_scene(tmp_path, kind, hostile_contents()))


# -- decompression bombs ------------------------------------------------------------------
BOMB_BYTES = 200 * 1024 * 1024
LIMIT = "10MB"


class _Zeros(io.RawIOBase):
    """``n`` zero bytes, produced on demand (the bomb is never held in memory)."""

    def __init__(self, n: int):
        self.left = n

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        k = min(len(buf), self.left)
        buf[:k] = bytes(k)
        self.left -= k
        return k


def _zeros_sha(n: int) -> str:
    h, block = hashlib.sha256(), bytes(1 << 20)
    for _ in range(n >> 20):
        h.update(block)
    return h.hexdigest()


def bomb_home(base: Path) -> tuple[Path, str, Path]:
    """A home whose only archive, written by the real writer, holds 200 MB of zeros in a
    few KB; indexed by reindex. Returns (home, session id, the file's origin)."""
    home = base / "home"
    home.mkdir(mode=0o700, parents=True)
    origin = home / "history" / f"{int(OLD)}_bomb.json"
    manifest = arc.Manifest(
        "bomb",
        "native",
        1,
        "move",
        str(home / "history"),
        OLD,
        {"name": "bomb", "last_activity_at": OLD},
        [arc.ManifestFile(origin.name, str(origin), BOMB_BYTES, int(OLD * 1e9), _zeros_sha(BOMB_BYTES))],
    )
    target = home / "archive" / arc.archive_relpath(OLD, "bomb", 1)
    arc.write_archive(
        target, manifest, [arc.SourceFile(manifest.files[0], lambda: io.BufferedReader(_Zeros(BOMB_BYTES)))]
    )
    assert target.stat().st_size < 100_000  # a real bomb: KBs that expand to 200 MB
    with Vault(home, full_text=False) as v:
        assert v.reindex() == 1
    return home, "bomb", origin


def _tree(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*")) if folder.exists() else []


def test_an_archive_expanding_past_max_expand_bytes_is_refused_on_restore_and_export(tmp_path):
    home, sid, origin = bomb_home(tmp_path)
    target = tmp_path / "restore"
    with Vault(home, max_expand_bytes=LIMIT) as v:
        with pytest.raises(DataError, match=r"limit of 10000000 bytes.*max_expand_bytes"):
            v.restore(sid, to=target)
        assert not target.exists(), "a refused restore wrote into its target"
        history_before = _tree(home / "history")
        with pytest.raises(DataError, match="max_expand_bytes"):
            v.restore(sid)  # to its origin, inside history/
        assert not origin.exists() and _tree(home / "history") == history_before
        for fmt in ("raw", "text", "jsonl"):
            out = io.BytesIO()
            with pytest.raises(DataError, match=r"limit of 10000000 bytes.*max_expand_bytes"):
                v.export(sid, out, fmt=fmt)
            assert out.getvalue() == b"", f"{fmt} export wrote before refusing"
    # Under the default limit the same archive is an ordinary (large) session.
    with Vault(home) as v:
        out = io.BytesIO()
        v.export(sid, out, fmt="raw")
        assert len(out.getvalue()) == BOMB_BYTES


def _member(name: str, payload: bytes) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(payload), 0o600
    return info.tobuf(format=tarfile.GNU_FORMAT) + payload + bytes(-len(payload) % 512)


def forge_archive(path: Path, home: Path, hog: bytes | None, member_size: int | None = None) -> str:
    """A hand-made archive whose manifest declares one 10-byte file. ``hog`` is a tar
    header type (GNU long name ``L``, pax record ``x``) given 200 MB of zeros, which the
    manifest does not count; ``member_size`` makes the member itself 200 MB of zeros
    while the manifest still says 10 bytes. Both understate what the archive expands to."""
    data = b"0123456789"
    origin = home / "history" / f"{int(OLD)}_forged.json"
    manifest = arc.Manifest(
        "forged",
        "native",
        1,
        "move",
        str(home / "history"),
        OLD,
        {"name": "forged"},
        [arc.ManifestFile(origin.name, str(origin), len(data), 0, hashlib.sha256(data).hexdigest())],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    block = bytes(1 << 20)
    with open(path, "wb") as fh, zstandard.ZstdCompressor(write_checksum=True).stream_writer(fh) as zw:
        zw.write(_member(arc.MANIFEST_NAME, manifest.to_json()))
        if hog is not None:
            header = tarfile.TarInfo("././@LongLink")
            header.type, header.size = hog, BOMB_BYTES
            zw.write(header.tobuf(format=tarfile.GNU_FORMAT))
            for _ in range(BOMB_BYTES >> 20):
                zw.write(block)
        if member_size is None:
            zw.write(_member(origin.name, data))
        else:
            header = tarfile.TarInfo(origin.name)
            header.size = member_size
            zw.write(header.tobuf(format=tarfile.GNU_FORMAT))
            for _ in range(member_size >> 20):
                zw.write(block)
        zw.write(bytes(1024))
    assert path.stat().st_size < 100_000
    return "forged"


@pytest.mark.parametrize(
    "hog,member_size",
    [(tarfile.GNUTYPE_LONGNAME, None), (tarfile.XHDTYPE, None), (None, BOMB_BYTES)],
    ids=["gnu-long-name", "pax-record", "member"],
)
def test_a_forged_archive_understating_its_size_is_stopped_without_expanding_it(tmp_path, hog, member_size):
    import tracemalloc

    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    path = home / "archive" / arc.archive_relpath(OLD, "forged", 1)
    sid = forge_archive(path, home, hog, member_size)
    tracemalloc.start()
    try:
        with pytest.raises(DataError):
            arc.read_archive(path, lambda f, s: s.read(), max_expand=10_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The reader stops within the manifest's declared size plus header room: it never
    # holds the 200 MB the forged header or member expands to.
    assert peak < 32 * 1024 * 1024, f"reading the forged archive held {peak} bytes"
    with Vault(home, max_expand_bytes=LIMIT) as v:
        v.index.insert(
            arc.entry_from_manifest(
                arc.Manifest(
                    sid,
                    "native",
                    1,
                    "move",
                    str(home / "history"),
                    OLD,
                    {"name": sid},
                    [
                        arc.ManifestFile(
                            f"{int(OLD)}_forged.json",
                            str(home / "history" / f"{int(OLD)}_forged.json"),
                            10,
                            0,
                            hashlib.sha256(b"0123456789").hexdigest(),
                        )
                    ],
                ),
                path.relative_to(home / "archive").as_posix(),
                path.stat().st_size,
                None,
            )
        )
        target = tmp_path / "restore"
        with pytest.raises(DataError):
            v.restore(sid, to=target)
        assert not target.exists() or not any(target.rglob("*"))
        out = io.BytesIO()
        with pytest.raises(DataError):
            v.export(sid, out, fmt="raw")
        assert out.getvalue() in (b"",)


# -- every parser, and the older app's importer, against arbitrary bytes -----------------
def _json_ish() -> st.SearchStrategy[bytes]:
    """Bytes that look like the records the tools write, then are broken."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=30),
        st.sampled_from(["user", "assistant", "summary", "tool_use", "../..", "/etc"]),
    )
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(
                st.sampled_from(
                    [
                        "type",
                        "message",
                        "content",
                        "role",
                        "text",
                        "timestamp",
                        "cwd",
                        "payload",
                        "session_id",
                        "sessionId",
                        "messages",
                        "version",
                        "width",
                        "height",
                        "conversation_file",
                    ]
                ),
                inner,
                max_size=5,
            ),
        ),
        max_leaves=25,
    )
    lines = st.lists(values.map(lambda v: json.dumps(v).encode()), min_size=1, max_size=6).map(b"\n".join)
    return st.one_of(
        st.binary(max_size=2000),
        lines,
        st.tuples(lines, st.integers(0, 2000), st.binary(max_size=8)).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]),
        st.integers(1, 3000).map(lambda n: b"[" * n + b'{"a":' * n),
    )


PARSE_NAMES = {
    "native": f"{int(OLD)}_fuzz.json",
    "claude-code": "p/fuzz.jsonl",
    "codex": "2025/01/02/rollout-fuzz.jsonl",
    "gemini": "h/chats/session-fuzz.json",
    "aider": ".aider.chat.history.md",
    "asciinema": "fuzz.cast",
    "agent-log": "fuzz.log",
    "agentmux": "9b1c3c1e-0000-4000-8000-000000000001/output",
    "wave": "9b1c3c1e-0000-4000-8000-000000000001/term",
}


@pytest.mark.parametrize("kind", KINDS)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=_json_ish())
def test_every_parser_survives_arbitrary_bytes(tmp_path, kind, data):
    path = tmp_path / kind / "f"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    src = source_class(kind)([tmp_path], home=tmp_path / "home", env={"HOME": str(tmp_path)})
    refs = [DiskFile(PARSE_NAMES[kind], len(data), path)]
    info = src.parse(refs)
    assert isinstance(info, SessionInfo)
    for message in src.messages(refs):
        assert isinstance(message.text, str)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(index=_json_ish(), session=_json_ish(), gz_damage=st.integers(0, 3))
def test_the_legacy_importer_survives_a_hostile_index_and_archives(tmp_path_factory, index, session, gz_damage):
    """Any archive_index.json next to any .json.gz: the home opens, nothing is rewritten or
    deleted, and a sound legacy session is still indexed and restores byte for byte."""
    base = tmp_path_factory.mktemp("legacy")
    home = base / "home"
    month = home / "archive" / "2024" / "05"
    month.mkdir(parents=True)
    home.chmod(0o700)
    good = json.dumps(
        {
            "session_id": "good-one",
            "name": "good",
            "working_directory": "/w",
            "created_at": OLD - 60,
            "modified_at": OLD,
        }
    ).encode()
    (month / f"{int(OLD)}_good-one.json.gz").write_bytes(gzip.compress(good))
    bad = gzip.compress(session)
    bad = [bad, bad[: len(bad) // 2], session, bad + session][gz_damage]
    (month / f"{int(OLD)}_hostile.json.gz").write_bytes(bad)
    (home / "archive_index.json").write_bytes(index)
    before = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    with Vault(home, full_text=False) as v:
        assert v.get("good-one").status == "legacy"
        target = base / "restore"
        v.restore("good-one", to=target)
        assert [p.read_bytes() for p in target.rglob("*.json")] == [good]
    for p, data in before.items():
        assert p.read_bytes() == data, f"{p} was rewritten"


def test_a_single_100_mb_line_is_archived_raw_and_restored_byte_for_byte(tmp_path):
    line = b'{"type":"user","message":{"content":"' + b"y" * (100 * 1024 * 1024) + b'"}}\n'
    after = b'{"type":"user","message":{"content":"the turn after the long line"}}\n'
    scene = build_scene(tmp_path, "claude-code", {"huge-line": line + after})
    path = next(iter(scene.files))
    with Vault(scene.home) as v:
        report = v.sweep(older_than=0, kinds=["claude-code"])
        assert not report.failed, report.failed
        (entry,) = [e for e in report.archived if e.meta.get("name") != "link-to-marker"]
        assert entry.original_size_bytes == len(line + after)
        assert v.search("long line"), "the records after the long line were not read"
        v.restore(entry.session_id, to=scene.restore_to)
    assert (scene.restore_to / path.relative_to(scene.tool_root)).read_bytes() == line + after
