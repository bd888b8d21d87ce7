"""The source plug-in interface and the helpers every source shares.

A source knows one tool's session files: where they live (``default_roots``), which files
make one session (``discover``, stat only), what the records say (``parse``: metadata and
searchable text) and how to show them (``messages``, rendered by ``termvault.render``).
Parsers never trust their input: every malformed line becomes a ``parse_warnings`` count,
never an exception that stops a sweep.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import orjson

from ..model import FileRef, SessionInfo, SessionUnit, UnitFile
from .lines import (  # noqa: F401  # the line readers, here for the sources that import them from base
    MAX_LINE_BYTES,
    iter_lines,
    iter_nonblank_lines,
    line_blocks,
    line_runs,
    split_run,
)

log = logging.getLogger(__name__)

# Caps that keep memory bounded whatever the input.
DEFAULT_TEXT_CAP = 4 * 1024 * 1024  # searchable text kept per session
# Every tool output is searchable whole (a match deep in a long output must be found): the
# per-session cap above is the only bound.
TOOL_OUTPUT_CAP = DEFAULT_TEXT_CAP


@dataclass
class Message:
    """One turn or event of a session, in display order, for rendering and preview.

    ``role`` is one of ``termvault.conversation.ROLES`` (user, assistant, thinking, tool,
    tool_result, system, meta, subagent, output, input, marker), described there. A
    message of a sub-agent run has ``depth`` > 0 and ``agent`` set to the run's label.
    ``extra`` may hold ``input`` (a tool call's recorded input), ``call_id`` (pairs a call
    with its result) and ``error`` (a failed tool result).
    """

    role: str
    text: str
    timestamp: float | None = None
    name: str | None = None  # tool name, marker label, model, sub-agent label
    extra: dict[str, Any] = field(default_factory=dict)
    depth: int = 0
    agent: str | None = None

    def __post_init__(self) -> None:
        # Whatever a parser hands over, previews and exports get one text: a list of
        # lines (the app's output_snapshot) joined, bytes decoded, None empty.
        self.text = message_text(self.text)


def message_text(value: Any) -> str:
    """``value`` as display text: lists/tuples of lines joined with ``\n`` (items made
    text the same way), bytes decoded (invalid UTF-8 replaced), None as ""."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple)):
        return "\n".join(message_text(v) for v in value)
    try:
        return str(value)
    except Exception:  # a hostile __str__ must not stop a preview
        return ""


class Source(ABC):
    """Base class of a session source. Subclasses set ``kind`` and implement three methods."""

    kind: ClassVar[str]
    default_mode: ClassVar[str] = "copy"
    description: ClassVar[str] = ""
    # Swept without configuration when its default folder exists. A source whose default
    # root is a whole home folder (aider) sets this False: walking it every sweep is costly.
    auto_detect: ClassVar[bool] = True
    # Overrides of the home's settings for this kind (None = the home's): how long a file
    # must be quiet before it is read, and the inactivity threshold in move mode.
    settle_seconds: ClassVar[float | None] = None
    move_archive_days: ClassVar[float | None] = None
    # Its files are windows over a longer stream (a circular file): exports stitch the
    # versions together (``stitch``).
    windowed: ClassVar[bool] = False
    # Whether a file written moments ago may still be growing, so that the sweep waits
    # for it to settle (``settle_seconds``). A source whose tool replaces its files
    # atomically (the app's history/*.json) sets this False: its files are whole.
    settles: ClassVar[bool] = True
    # Whether ``messages`` may give a conversation (user, assistant, tool turns). A source
    # whose messages are only terminal output sets this False: its full text is the text
    # its parser made, and the sweep does not read the files a second time for messages.
    conversational: ClassVar[bool] = True
    # The settings of its own a [sources.KIND] section may give it (``self.options``),
    # beyond mode, roots, archive_days and enabled: any other key is a mistake.
    option_names: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        roots: Sequence[Path | str] | None = None,
        *,
        home: Path,
        options: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self.home = Path(home)
        self.options: dict[str, Any] = dict(options or {})
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.roots: list[Path] = [Path(os.path.expanduser(str(r))) for r in roots] if roots else self.default_roots()

    # -- to implement -------------------------------------------------------------------
    def default_roots(self) -> list[Path]:
        """Where this tool keeps sessions when nothing is configured (``~`` expanded)."""
        return []

    @abstractmethod
    def discover(self) -> Iterator[SessionUnit]:
        """Yield every session unit under the roots. Reads no content: ``stat`` only."""

    @abstractmethod
    def parse(self, files: Sequence[FileRef]) -> SessionInfo:
        """Extract metadata and searchable text from the unit's files. Never raises on bad
        content: count it in ``parse_warnings`` and fall back sensibly."""

    def parse_unit(self, files: Sequence[FileRef], unit: SessionUnit) -> SessionInfo:
        """``parse`` during a sweep, when the discovered unit is known: a source whose
        metadata lives beside the files (another app's database) adds it here."""
        return self.parse(files)

    def remove_archived(self, unit: SessionUnit, shas: Mapping[str, str], fault: Callable[[str], None]) -> int | None:
        """Move mode, after the unit's archive is verified and indexed: remove the unit
        from where its tool keeps it, only what is unchanged since it was read. Returns the
        bytes removed, or None to let termvault delete the unit's files from disk (the
        default). ``fault`` is the crash-test hook, called before each step."""
        return None

    def restore_in_place(self, request: RestoreRequest) -> tuple[list[str], list[str]] | None:
        """Put an archived version back where its tool keeps it, when that is not a file
        on disk. Returns (restored, unchanged) descriptions, or None to let termvault
        write the files to their origins (the default)."""
        return None

    def stitch(self, versions: Sequence[tuple[int, dict[str, Any], Sequence[FileRef]]], spool_dir: Path) -> FileRef:
        """A windowed source's continuous history from (version, manifest meta, files) of
        each archived version, oldest first."""
        raise NotImplementedError(f"{self.kind} sessions are not windows")

    def messages(self, files: Sequence[FileRef]) -> Iterator[Message]:
        """Yield the session's turns for text/markdown/jsonl export and the preview.
        The default shows each file's text as terminal output."""
        for ref in files:
            with ref.open() as fh:
                yield Message("output", decode_text(fh.read(DEFAULT_TEXT_CAP)), name=ref.relpath)

    # -- shared behaviour ---------------------------------------------------------------
    def detected(self) -> bool:
        return any(r.is_dir() for r in self.roots)

    def home_path(self) -> Path:
        return Path(self.env.get("HOME") or os.path.expanduser("~"))

    def env_dir(self, name: str, *default: str) -> Path:
        """The folder the environment variable ``name`` names (a leading ``~`` is
        ``home_path``), else ``default``'s parts under ``home_path``."""
        value = self.env.get(name)
        return expand_home(value, self.home_path()) if value else self.home_path().joinpath(*default)


@dataclass
class ArchivedFile:
    """One file of an archived version, as its manifest records it."""

    path: str
    origin: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass
class RestoreRequest:
    """What ``Source.restore_in_place`` gets: the version's files and metadata, and
    ``stream(callback)``, which reads the archive once and calls ``callback(path, fh)``
    for each file with its verified bytes."""

    session_id: str
    version: int
    mode: str
    meta: dict[str, Any]
    files: list[ArchivedFile]
    force: bool
    stream: Callable[[Callable[[str, Any], None]], None]


# ---------------------------------------------------------------------------------------
# Helpers for implementations
# ---------------------------------------------------------------------------------------


def stat_file(origin: Path, relpath: str) -> UnitFile | None:
    """A UnitFile for a regular file (symlinks and vanished files give None)."""
    try:
        st = os.lstat(origin)
    except OSError:
        return None
    if not _is_regular(st.st_mode):
        return None
    return UnitFile(
        origin=origin,
        relpath=relpath,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        ino=st.st_ino,
        ctime_ns=st.st_ctime_ns,
    )


def _is_regular(mode: int) -> bool:
    import stat as _stat

    return _stat.S_ISREG(mode)


def scan_folders(
    root: Path, max_depth: int = 12, enter: Callable[[os.DirEntry[str]], bool] | None = None
) -> Iterator[tuple[Path, list[os.DirEntry[str]]]]:
    """Each readable folder under ``root`` (``root`` first) with its entries that are not
    folders, in name order. Subfolders up to ``max_depth`` levels down are visited when
    ``enter(entry)`` allows (all of them by default).

    Symbolic links inside the tree are never followed (a link to a folder is listed as a
    non-folder entry), so a link cannot lead discovery out of it. ``root`` itself may be
    a link (a sessions folder moved to a bigger disk): the user chose it. Unreadable
    folders and entries that cannot be examined are skipped.
    """
    if not root.is_dir():
        return
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        others = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < max_depth and (enter is None or enter(entry)):
                        stack.append((Path(entry.path), depth + 1))
                    continue
            except OSError:
                continue
            others.append(entry)
        yield folder, others


def walk(root: Path, pattern: re.Pattern[str] | None = None, max_depth: int = 12) -> Iterator[Path]:
    """Regular files under ``root`` whose relative POSIX path matches ``pattern``.

    Symbolic links are never followed, so a link cannot lead discovery out of the tree.
    Unreadable folders are skipped.
    """
    for _, entries in scan_folders(root, max_depth):
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False):
                    path = Path(entry.path)
                    if pattern is None or pattern.search(path.relative_to(root).as_posix()):
                        yield path
            except OSError:
                continue


def make_unit(source: str, session_id: str, root: Path, paths: Iterable[Path], **hints: Any) -> SessionUnit | None:
    """Build a unit from files under ``root``; files that vanished are dropped."""
    files = []
    for p in paths:
        uf = stat_file(p, p.relative_to(root).as_posix())
        if uf is not None:
            files.append(uf)
    if not files:
        return None
    files.sort(key=lambda f: f.relpath)
    return SessionUnit(
        source=source,
        session_id=session_id,
        root=root,
        files=files,
        mtime=max(f.mtime_ns for f in files) / 1e9,
        hints=dict(hints),
    )


class Candidate(NamedTuple):
    """Files that may make one unit: found under ``root``, to be named ``session_id``."""

    root: Path
    session_id: str
    paths: Sequence[Path]
    hints: Mapping[str, Any] | None = None


def unique_units(
    kind: str, candidates: Iterable[Candidate], keep: Callable[[SessionUnit], bool] | None = None
) -> Iterator[SessionUnit]:
    """A unit (``make_unit``) for each candidate whose id no earlier unit took: the same
    files reached from two overlapping roots give one unit, under the first root. A
    candidate whose files vanished, or whose unit ``keep`` refuses, gives none and leaves
    its id free."""
    seen: set[str] = set()
    for root, session_id, paths, hints in candidates:
        if session_id in seen:
            continue
        unit = make_unit(kind, session_id, root, paths, **(hints or {}))
        if unit is not None and (keep is None or keep(unit)):
            seen.add(session_id)
            yield unit


def decode_text(data: bytes) -> str:
    """Decode bytes as UTF-8, replacing what is not (never raises)."""
    return data.decode("utf-8", errors="replace")


_MIN_TIME = 315532800.0  # 1980-01-01: earlier "timestamps" are noise
_MAX_TIME = 7258118400.0  # 2200-01-01


def parse_time(value: Any) -> float | None:
    """Parse an ISO-8601 string or a number (seconds, milliseconds or microseconds) into
    UNIX seconds. Never raises; absurd values (before 1980, after 2200) give None."""
    if isinstance(value, str):  # the common case, in one call (``_parse_time`` reads it alike)
        s = value.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
            when = (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).timestamp()
        except (ValueError, OverflowError, OSError, TypeError):
            return None
        return when if _MIN_TIME <= when <= _MAX_TIME else None
    try:
        t = _parse_time(value)
    except (ValueError, OverflowError, OSError, TypeError):
        return None
    return t if t is not None and _MIN_TIME <= t <= _MAX_TIME else None


def _parse_time(value: Any) -> float | None:
    if isinstance(value, str):  # the common case first
        if not value:
            return None
        s = value.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        v = float(value)
        if v > 1e14:  # microseconds
            v /= 1e6
        elif v > 1e11:  # milliseconds
            v /= 1e3
        return v if v > 0 else None
    return None


def loads(raw: bytes | str) -> Any:
    """``json.loads``, fast: orjson parses the common case; anything it refuses (NaN,
    integers past 64 bits, lone surrogates, UTF-16, nesting past its limit) goes to
    ``json.loads``, so a line parses, or fails, exactly as it always did."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def iter_jsonl(ref: FileRef, warnings: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """Yield each JSON object line of a JSONL file. Blank lines are ignored; anything
    else that is not a JSON object increments ``warnings[0]`` (pass ``[0]``)."""
    for raw in iter_nonblank_lines(ref):
        # A JSON object starts with "{": anything else is counted without parsing it.
        if raw is None or (raw[0] != 123 and raw.lstrip()[:1] != b"{"):
            if warnings is not None:
                warnings[0] += 1
            continue
        try:
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                obj = json.loads(raw)  # ``loads``, inline: what orjson refuses
        except UnicodeDecodeError:
            # A stray invalid byte in a string: the record is kept, that byte replaced
            # (as ``loads_lenient`` does), rather than the whole line lost.
            obj = loads_lenient(raw)
            if obj is None:
                if warnings is not None:
                    warnings[0] += 1
                continue
        except (ValueError, RecursionError):
            if warnings is not None:
                warnings[0] += 1
            continue
        if isinstance(obj, dict):
            yield obj
        elif warnings is not None:
            warnings[0] += 1


def read_jsonl(
    ref: FileRef, warnings: list[int], errors: tuple[type[BaseException], ...] = (OSError,)
) -> Iterator[dict[str, Any]]:
    """``iter_jsonl`` over a file that may fail part-way with one of ``errors`` (unreadable,
    corrupt compressed data): the records read before the failure are kept and the
    failure counts as one more warning."""
    try:
        yield from iter_jsonl(ref, warnings)
    except errors as exc:
        log.debug("cannot read %s: %s", ref.relpath, exc)
        warnings[0] += 1


def loads_lenient(raw: bytes | None) -> Any:
    """The JSON value of ``raw``, or None when it is None, not JSON or nested too deep.
    Invalid UTF-8 inside otherwise good JSON is replaced rather than losing the value."""
    if raw is None:
        return None
    try:
        return loads(raw)
    except (ValueError, RecursionError):
        pass
    try:
        return json.loads(decode_text(raw))
    except (ValueError, RecursionError):
        return None


def read_head(ref: FileRef, limit: int) -> str:
    """The first ``limit`` bytes of ``ref`` as text (invalid UTF-8 replaced); ``""`` when
    the file cannot be read."""
    try:
        with ref.open() as fh:
            return decode_text(fh.read(limit))
    except OSError:
        return ""


# False inside ``without_text``: every TextCollector made then keeps nothing.
_TEXT_WANTED: contextvars.ContextVar[bool] = contextvars.ContextVar("termvault_text_wanted", default=True)


@contextlib.contextmanager
def without_text() -> Iterator[None]:
    """Parse for the metadata alone (a sweep with full text off): the parsers' text
    collectors keep nothing, so ``SessionInfo.text`` comes back empty. Every collector
    only feeds ``info.text``; the metadata is the same (``tests/test_sweep_text_off.py``)."""
    token = _TEXT_WANTED.set(False)
    try:
        yield
    finally:
        _TEXT_WANTED.reset(token)


class PartReader:
    """What a source's ``resumable`` reader shares (see ``ops.resume``): its parse
    ``state`` (``info()``, ``text``), the record reader its ``feed`` uses (``records``),
    and from those the metadata, a cut last line's warnings and dropping the text."""

    state: Any

    def records(self, ref: FileRef, warnings: list[int]) -> Iterator[Any]:
        raise NotImplementedError

    def info(self) -> SessionInfo:
        return self.state.info()

    def cut_line(self, ref: FileRef) -> int | None:
        """What ``parse`` counts for a last line without its newline (a record being
        written): its warnings, or None when it is a whole record."""
        warnings = [0]
        for _ in self.records(ref, warnings):
            return None
        return warnings[0]

    def drop_text(self) -> None:
        """Stop collecting the parser's text (``info().text`` is then empty): the caller
        keeps the full text from the messages, or none."""
        self.state.text = TextCollector(cap=0)


class TextCollector:
    """Accumulates searchable text up to a cap (characters), dropping the rest.

    A passage of ``REPEAT_MIN`` characters or more that was already added (the same file
    read twice, the same preamble in every turn) is added once: searching finds the
    session either way, and the index stays smaller.
    """

    REPEAT_MIN = 200

    def __init__(self, cap: int = DEFAULT_TEXT_CAP):
        self.cap = cap if _TEXT_WANTED.get() else 0
        self.parts: list[str] = []
        self.size = 0
        self._seen: set[str] = set()

    def add(self, text: Any, limit: int | None = None) -> None:
        if not text or self.size >= self.cap:
            return
        if not isinstance(text, str):
            text = str(text)
        if limit is not None and len(text) > limit:
            text = text[:limit]
        if len(text) >= self.REPEAT_MIN:
            if text in self._seen:  # the strings themselves: exact, and the same every run
                return
            self._seen.add(text)
        text = text[: self.cap - self.size]
        self.parts.append(text)
        self.size += len(text) + 1

    def add_lines(self, lines: list[str]) -> None:
        """``add`` each string of ``lines`` in order, in one step when all fit whole and
        none is long enough to be a repeat (the common case: short output lines)."""
        if not lines or self.size >= self.cap:
            return
        if "" in lines:
            lines = [line for line in lines if line]
        if self.size + sum(map(len, lines)) + len(lines) > self.cap:
            for line in lines:  # the cap is reached on the way
                self.add(line)
            return
        # All fit whole (leaving a repeat out only frees room): only repeats need a look.
        if lines and max(map(len, lines)) >= self.REPEAT_MIN:
            seen, repeat = self._seen, self.REPEAT_MIN
            kept = []
            for line in lines:
                if len(line) >= repeat:
                    if line in seen:
                        continue
                    seen.add(line)
                kept.append(line)
            lines = kept
        self.parts += lines
        self.size += sum(map(len, lines)) + len(lines)

    def text(self) -> str:
        return "\n".join(self.parts)


MAX_CONTENT_DEPTH = 32


def content_text(content: Any, tool_output_cap: int = TOOL_OUTPUT_CAP, _depth: int = 0) -> str:
    """Flatten the message ``content`` shapes agent tools use (a string, or a list of
    blocks with ``text`` / ``content`` / ``input``) into plain text. Nesting deeper than
    MAX_CONTENT_DEPTH raises RecursionError early, which parsers count as a warning for
    that record (hostile input must not exhaust the stack)."""
    if _depth > MAX_CONTENT_DEPTH:
        raise RecursionError("message content nested too deep")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(filter(None, (content_text(c, tool_output_cap, _depth + 1) for c in content)))
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            return content["text"]
        if "content" in content:
            return content_text(content["content"], tool_output_cap, _depth + 1)[:tool_output_cap]
        if "input" in content:
            try:
                return json.dumps(content["input"], ensure_ascii=False)[:tool_output_cap]
            except (TypeError, ValueError):
                return ""
    return ""


def str_or_none(value: Any) -> str | None:
    """``value`` if it is a non-empty string (record fields may hold any JSON type)."""
    return value if isinstance(value, str) and value else None


def clean_text(text: str) -> str:
    """Replace lone surrogates (JSON can smuggle them in) so the text encodes as UTF-8.
    Text that already encodes is returned as is (ASCII without even encoding it)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def expand_home(value: str, home: Path) -> Path:
    """Expand a leading ``~`` against ``home`` (the source's idea of $HOME)."""
    if value == "~" or value.startswith("~/"):
        return home / value[2:]
    return Path(value)


def unit_id(kind: str, label: str, path: Path) -> str:
    """A stable id for a file-based unit with no id of its own: kind, a readable slug of
    ``label`` and 12 hex digits of the SHA-256 of the absolute path."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-_")[:60]
    digest = hashlib.sha256(os.path.abspath(path).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{kind}-{slug}-{digest}" if slug else f"{kind}-{digest}"


def clean_info(info: SessionInfo) -> SessionInfo:
    """``info`` with lone surrogates (JSON can carry them) replaced in every string, so
    its metadata and text encode as UTF-8 in the manifest and the index."""
    for name in ("name", "working_directory", "last_command", "first_prompt", "git_branch", "model", "text"):
        value = getattr(info, name)
        if isinstance(value, str):
            setattr(info, name, clean_text(value))
    info.extra = _clean_value(info.extra)
    return info


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    return value


def first_line(text: str | None, limit: int = 200) -> str:
    """The first non-empty line of ``text``, shortened to ``limit`` characters."""
    if not text:
        return ""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""
