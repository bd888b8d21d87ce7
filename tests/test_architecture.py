"""The shape of the code, checked: layers look only down, SQL lives in the index, one
module for each shared job, and the generated documentation is current."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from termvault import durations, fsutil
from termvault.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "termvault"
CORE_EXCLUDED = ("cli", "tui", "agents")
INDEX_TABLES = r"(sessions|settings|fts_text|fts_ident|fts_terms|text_chunks|schema_migrations|latest)"
SQL_ON_INDEX = re.compile(
    rf"\b(FROM|INTO|UPDATE|JOIN|TABLE)\s+{INDEX_TABLES}\b|\bPRAGMA\s+(quick_check|wal_checkpoint)"
)


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _rel(p: Path) -> str:
    return p.relative_to(SRC).as_posix()


def test_import_contracts_hold():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install '.[test]')")
    out = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "broken" not in out.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_no_module_outside_the_index_runs_sql_on_its_tables():
    offenders = []
    for p in _modules():
        # Sources read other applications' databases (AgentMux's and Wave's FileStore, which
        # has a schema_migrations table of its own), never the index: they get no handle on it.
        if _rel(p).startswith(("index/", "sources/")):
            continue
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_ON_INDEX.search(node.value):
                offenders.append(f"{_rel(p)}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr == "db" and isinstance(node.value, ast.Attribute):
                if node.value.attr == "index":  # reaching past ArchiveIndex for the raw connection
                    offenders.append(f"{_rel(p)}:{node.lineno}")
    assert offenders == []


def test_the_vault_is_a_small_composer():
    lines = (SRC / "vault.py").read_text(encoding="utf-8").count("\n")
    assert lines < 250, f"vault.py has {lines} lines"


def test_core_modules_import_their_siblings_at_the_top():
    found = []
    for p in _modules():
        rel = _rel(p)
        if rel.split("/")[0] in CORE_EXCLUDED:
            continue
        source = p.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(source))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(node):
                sibling = isinstance(sub, ast.ImportFrom) and (
                    sub.level > 0 or (sub.module or "").startswith("termvault")
                )
                if sibling and "lazy:" not in source[sub.lineno - 1]:
                    found.append(f"{rel}:{sub.lineno}")
    assert found == []


def test_one_module_writes_files_atomically():
    # Durable writes happen in fsutil (atomic_writer: fsync then rename; append_durably for
    # logs); a restore stages several files before renaming them all into place, and
    # reindex renames an unreadable index aside.
    writers = [_rel(p) for p in _modules() if re.search(r"os\.(fsync|replace)\(", p.read_text(encoding="utf-8"))]
    assert sorted(writers) == ["fsutil.py", "ops/reindex.py", "ops/restore.py"]


def test_the_atomic_writer_leaves_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), fsutil.atomic_writer(target) as fh:
        fh.write(b"new")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
    fsutil.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and (target.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45s", 45),
        ("90min", 5400),
        ("12h", 43200),
        ("30d", 30 * 86400),
        ("2w", 14 * 86400),
        ("3mo", 90 * 86400),
        ("1y", 365 * 86400),
        ("1.5h", 5400),
    ],
)
def test_one_duration_grammar(text, seconds):
    assert durations.parse_duration(text) == seconds
    assert durations.parse_when(text, now=10**9) == 10**9 - seconds


def test_durations_refuse_what_they_cannot_read():
    for bad in ("soon", "5 parsecs", "-3d", "", "7", "2m"):  # a bare number or "m" is ambiguous
        with pytest.raises(UsageError, match="duration|date|unit|ambiguous"):
            durations.parse_when(bad) if bad == "soon" else durations.parse_duration(bad)


def test_the_cli_reference_is_generated_from_help_and_current():
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cli_docs.py"), "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def test_the_package_ships_its_type_information():
    assert (SRC / "py.typed").exists()


def test_a_batch_publish_never_replaces_a_file_already_there(tmp_path):
    existing, fresh = tmp_path / "a.tar.zst", tmp_path / "b.tar.zst"
    existing.write_bytes(b"kept")
    staged = []
    for target in (fresh, existing):
        with fsutil.staged_writer(target) as (fh, tmp):
            fh.write(b"new")
        staged.append((tmp, target))
    with pytest.raises(FileExistsError, match="a.tar.zst"):
        fsutil.publish(staged)
    assert existing.read_bytes() == b"kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.zst"]  # nothing else left
