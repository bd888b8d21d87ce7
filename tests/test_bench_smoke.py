"""The benchmark harness: the synthetic corpus is reproducible and shaped like the real
session files, and the older app's archiving anchor writes archives that decompress to
their sources. No timings are asserted."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # bench/ lives at the repository root, outside src/
    sys.path.insert(0, str(REPO))

from bench import results as res  # noqa: E402
from bench.anchors import old_app_archive  # noqa: E402
from bench.corpus import DEFAULT_NOW, KINDS, corpus_files, generate, tree_digest  # noqa: E402

SIZE = 2_000_000
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIMING_KEYS = {"seconds", "cpu_seconds", "mb_per_s", "cpu_mb_per_s"}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Two corpora from seed 7 and one from seed 8, with their summaries."""
    base = tmp_path_factory.mktemp("bench")
    out = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        out[name] = (base / name, generate(base / name, seed=seed, total_bytes=SIZE))
    return out


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000))


def _jsonl(path: Path) -> list[dict]:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert records and all(isinstance(r, dict) for r in records), path
    return records


def test_the_same_seed_gives_byte_identical_corpora(corpora):
    (a, sa), (b, sb) = corpora["a"], corpora["b"]
    assert tree_digest(a) == tree_digest(b)
    assert {k: v for k, v in sa.items() if k not in TIMING_KEYS} == {
        k: v for k, v in sb.items() if k not in TIMING_KEYS
    }


def test_a_different_seed_gives_a_different_corpus(corpora):
    assert tree_digest(corpora["a"][0]) != tree_digest(corpora["c"][0])


def test_the_corpus_is_about_the_requested_size_and_the_summary_matches_the_disk(corpora):
    root, summary = corpora["a"]
    files = corpus_files(root)
    total = sum(f.stat().st_size for f in files)
    assert 0.9 * SIZE <= total <= 1.25 * SIZE
    assert summary["bytes"] == total and summary["files"] == len(files)
    assert set(summary["kinds"]) == set(KINDS)
    for kind, stats in summary["kinds"].items():
        assert stats["files"] > 0 and stats["bytes"] > 0, kind


def test_the_corpus_is_laid_out_like_a_user_home(corpora):
    root, _ = corpora["a"]
    rel = [p.relative_to(root).as_posix() for p in corpus_files(root)]
    claude = [r for r in rel if re.fullmatch(rf"\.claude/projects/-[A-Za-z0-9-]+/{UUID}\.jsonl", r)]
    subagents = [
        r for r in rel if re.fullmatch(rf"\.claude/projects/-[A-Za-z0-9-]+/{UUID}/subagents/agent-[0-9a-f]+\.jsonl", r)
    ]
    codex = [
        r
        for r in rel
        if re.fullmatch(
            rf"\.codex/sessions/\d{{4}}/\d\d/\d\d/rollout-\d{{4}}-\d\d-\d\dT\d\d-\d\d-\d\d-{UUID}\.jsonl", r
        )
    ]
    native = [r for r in rel if re.fullmatch(rf"\.multi-term/history/\d+_{UUID}\.json", r)]
    casts = [r for r in rel if re.fullmatch(r"recordings/[^/]+\.cast", r)]
    aider = [r for r in rel if r.endswith("/.aider.chat.history.md")]
    assert claude and subagents and codex and native and casts and aider
    for r in subagents:  # a side chain sits next to the transcript that spawned it
        assert r.split("/subagents/")[0] + ".jsonl" in claude


def test_claude_code_transcripts_are_jsonl_with_the_real_record_shapes(corpora):
    root, _ = corpora["a"]
    paths = sorted((root / ".claude/projects").rglob("*.jsonl"))
    tool_uses = tool_results = 0
    for path in paths:
        records = _jsonl(path)
        side = path.parent.name == "subagents"
        sid = path.parent.parent.name if side else path.stem
        pending: set[str] = set()
        for rec in records:
            if rec["type"] not in ("user", "assistant"):
                assert rec["type"] in ("summary", "file-history-snapshot", "system", "last-prompt")
                continue
            assert rec["sessionId"] == sid and rec["isSidechain"] is side
            assert {"uuid", "parentUuid", "timestamp", "cwd", "gitBranch", "version"} <= rec.keys()
            assert rec["message"]["role"] == rec["type"]
            content = rec["message"]["content"]
            for block in content if isinstance(content, list) else []:
                if block["type"] == "tool_use":
                    pending.add(block["id"])
                    tool_uses += 1
                elif block["type"] == "tool_result":
                    assert block["tool_use_id"] in pending  # every result answers an earlier call
                    tool_results += 1
        # the file's mtime is the session's last activity
        last = max(_ms(r["timestamp"]) for r in records if "timestamp" in r)
        assert path.stat().st_mtime_ns == last * 1_000_000
    assert tool_uses == tool_results > 0


def test_codex_rollouts_are_jsonl_with_session_meta_first(corpora):
    root, _ = corpora["a"]
    for path in sorted((root / ".codex/sessions").rglob("*.jsonl")):
        records = _jsonl(path)
        assert records[0]["type"] == "session_meta"
        assert path.name.endswith(records[0]["payload"]["id"] + ".jsonl")
        assert {r["type"] for r in records} <= {"session_meta", "response_item", "event_msg", "turn_context"}
        calls = {
            r["payload"]["call_id"]
            for r in records
            if r["payload"].get("type") in ("function_call", "custom_tool_call")
        }
        outputs = {
            r["payload"]["call_id"]
            for r in records
            if r["payload"].get("type") in ("function_call_output", "custom_tool_call_output")
        }
        assert outputs == calls
        assert path.stat().st_mtime_ns == max(_ms(r["timestamp"]) for r in records) * 1_000_000


def test_no_generation_placeholder_is_left_in_any_file(corpora):
    root, _ = corpora["a"]
    for path in corpus_files(root):
        assert b"\\u0002" not in path.read_bytes(), path


def test_native_sessions_are_session_state_json_named_by_modified_at(corpora):
    root, _ = corpora["a"]
    keys = {
        "session_id",
        "name",
        "working_directory",
        "created_at",
        "modified_at",
        "command_count",
        "last_command",
        "conversation_file",
        "output_snapshot",
        "is_active",
    }
    for path in sorted((root / ".multi-term/history").iterdir()):
        state = json.loads(path.read_text(encoding="utf-8"))
        assert set(state) == keys
        assert path.name == f"{int(state['modified_at'])}_{state['session_id']}.json"
        assert state["created_at"] <= state["modified_at"] <= DEFAULT_NOW
        assert state["last_command"] in state["output_snapshot"]
        assert path.stat().st_mtime_ns == round(state["modified_at"] * 1000) * 1_000_000


def test_sessions_span_the_eighteen_months_before_the_clock(corpora):
    root, _ = corpora["a"]
    mtimes = [p.stat().st_mtime for p in corpus_files(root)]
    assert max(mtimes) <= DEFAULT_NOW
    assert min(mtimes) >= DEFAULT_NOW - 549 * 86400
    assert max(mtimes) - min(mtimes) > 180 * 86400  # spread out, not bunched


def test_casts_are_asciinema_v2(corpora):
    root, _ = corpora["a"]
    for path in sorted((root / "recordings").iterdir()):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[0])["version"] == 2
        times = [json.loads(line)[0] for line in lines[1:]]
        assert times == sorted(times) and all(json.loads(line)[1] == "o" for line in lines[1:])


def test_planted_query_words_occur_in_the_reported_number_of_files(corpora):
    root, summary = corpora["a"]
    blobs = [p.read_bytes() for p in corpus_files(root)]
    counted = {word: n for word, n in summary["queries"].items() if n is not None}
    assert len(counted) >= 4 and 0 in counted.values()
    for word, n in counted.items():
        assert sum(word.encode() in b for b in blobs) == n, word


def test_generate_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate(tmp_path, total_bytes=100_000)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_the_old_app_anchor_archives_every_file_and_each_archive_gunzips_to_its_source(corpora, tmp_path):
    root, _ = corpora["a"]
    sources = corpus_files(root)
    out = old_app_archive(root, tmp_path)
    archives = sorted(tmp_path.joinpath("archive").rglob("*.json.gz"))
    index = json.loads((tmp_path / "archive_index.json").read_text(encoding="utf-8"))
    assert out["files"] == len(sources) == len(archives) == len(index)
    assert out["input_bytes"] == sum(p.stat().st_size for p in sources)
    assert out["output_bytes"] == sum(p.stat().st_size for p in archives)
    assert out["ratio"] > 1 and out["seconds"] >= out["index_seconds"] >= 0
    for entry in index.values():
        assert {
            "name",
            "archived_at",
            "original_timestamp",
            "archive_path",
            "size_bytes",
            "original_size_bytes",
            "working_directory",
            "last_command",
        } <= entry.keys()
        assert os.path.getsize(entry["archive_path"]) == entry["size_bytes"]
    digest = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    unpacked = sorted(digest(gzip.decompress(p.read_bytes())) for p in archives)
    assert unpacked == sorted(digest(p.read_bytes()) for p in sources)
    # native sessions are indexed under their own session ids
    native = [json.loads(p.read_text(encoding="utf-8")) for p in (root / ".multi-term/history").iterdir()]
    for state in native:
        assert index[state["session_id"]]["name"] == state["name"]
        assert index[state["session_id"]]["original_size_bytes"] > 0


def test_the_results_table_has_a_row_per_measurement_and_keeps_unknown_numbers():
    doc = res.new_results()
    res.add(
        doc,
        "anchor.cli.zstd-3",
        {
            "files": 3,
            "input_bytes": 3_000_000,
            "output_bytes": 1_000_000,
            "ratio": 3.0,
            "seconds": 1.5,
            "mb_per_s": 2.0,
        },
    )
    res.add(doc, "termvault.search", {"ms_per_query": 4.2, "p99_ms": 9.5})
    table = res.markdown_table(doc).splitlines()
    assert len(table) == 4
    assert table[2].startswith("| anchor.cli.zstd-3 | 3 | 3.0 | 1.0 | 3.00 | 1.50 |")
    assert "p99_ms=9.5" in table[3] and "4.2" in table[3]


# -- termvault's own benchmarks: each runs on a tiny input -------------------------------


@pytest.fixture(scope="module")
def tiny_run(corpora, tmp_path_factory):
    """Every termvault step of ``python -m bench all`` on the 2 MB corpus, shrunk: the
    results document, the corpus and its digest taken before the run."""
    from bench.__main__ import Plan, run_termvault

    root, summary = corpora["a"]
    before = tree_digest(root)
    results = res.new_results()
    results["meta"]["corpus"] = summary
    plan = Plan(search_raw=3 * summary["bytes"], sessions=300, memory=3_000_000, restore=300_000, reps=1)
    run_termvault(root, tmp_path_factory.mktemp("tiny-run"), results, plan)
    return results, root, summary, before


def test_every_termvault_step_runs_without_error(tiny_run):
    results, *_ = tiny_run
    assert results["meta"]["errors"] == {}
    m = results["measurements"]
    for name in (
        "termvault.sweep.full_text",
        "termvault.sweep.no_full_text",
        "termvault.sweep.level19",
        "termvault.index_size",
        "experiment.index_size_after_fts_optimize",
        "experiment.archives_at_level_6",
        "termvault.search.swept_vault",
        "termvault.search.snippets",
        "termvault.search.large_vault",
        "termvault.scale.cli_stats",
        "termvault.scale.cli_search_name",
        "termvault.scale.session_storage_open",
        "anchor.json_index.process_stats",
        "termvault.import",
        "termvault.restore",
        "termvault.memory",
    ):
        assert name in m, name
    assert results["profile"]["stages"]


def test_the_sweep_benchmark_archives_the_whole_corpus_and_leaves_it_untouched(tiny_run):
    results, root, summary, before = tiny_run
    m = results["measurements"]
    for name in ("termvault.sweep.full_text", "termvault.sweep.no_full_text"):
        sweep = m[name]
        assert sweep["failed"] == 0 and sweep["native_left_in_history"] == 0
        assert sweep["input_bytes"] == summary["bytes"]
        assert 0 < sweep["output_bytes"] < sweep["input_bytes"]
    assert {k for k in summary["kinds"]} == {n.split(".")[-1] for n in m if n.startswith("termvault.size.")}
    assert tree_digest(root) == before


def test_the_index_size_is_split_into_its_parts(tiny_run):
    size = tiny_run[0]["measurements"]["termvault.index_size"]
    parts = sum(size[f"{k}_bytes"] for k in ("fts_text", "text_frames", "sessions", "other"))
    assert size["fts_text_bytes"] > 0 and size["text_frames_bytes"] > 0 and size["sessions_bytes"] > 0
    assert parts <= size["index_bytes"]
    assert size["index_to_archive"] == pytest.approx(size["index_bytes"] / size["archive_bytes"], abs=0.001)


def test_the_profile_stages_add_up_to_the_profiled_sweep(tiny_run):
    profile = tiny_run[0]["profile"]
    stages = profile["stages"]
    for stage in (
        "parse_and_hash",
        "fulltext_prepare",
        "write_archive",
        "verify",
        "fulltext_insert",
        "index_lookups",
        "index_row_and_commit",
    ):
        assert stages[stage] > 0, stage
    # thread-seconds: the main thread's wall time plus the parse thread's busy time
    assert profile["total_seconds"] == pytest.approx(
        profile["wall_seconds"] + profile["parse_thread_busy_seconds"], abs=0.002
    )
    assert sum(stages.values()) >= profile["total_seconds"] - 0.01
    assert sum(v for k, v in stages.items() if k != "other") <= profile["total_seconds"] * 1.05
    assert profile["top"]


def test_the_large_search_vault_holds_every_session_once_per_copy(tiny_run):
    results, _, summary, _ = tiny_run
    m = results["measurements"]
    built, small = m["termvault.search.large_vault_build"], m["termvault.search.swept_vault"]
    assert built["copies"] >= 3 and built["input_bytes"] >= 3 * summary["bytes"] * 0.99
    assert built["sessions"] == built["copies"] * small["sessions"]
    large = m["termvault.search.large_vault"]["per_query"]
    # the planted needles are renamed in the replicas: the same sessions match
    for word, files in summary["queries"].items():
        if files is not None:
            assert large[f"word {word}"]["hits"] == small["per_query"][f"word {word}"]["hits"], word
    common = summary_common(summary)
    assert large[f"word {common}"]["hits"] >= min(50, small["per_query"][f"word {common}"]["hits"] * 2)


def summary_common(summary):
    return next(w for w, n in summary["queries"].items() if n is None)


def test_the_scale_benchmark_runs_the_cli_on_its_vault(tiny_run):
    m = tiny_run[0]["measurements"]
    assert m["termvault.scale.build"]["sessions"] >= 300
    assert m["termvault.scale.cli_stats"]["exit"] == 0 and m["termvault.scale.cli_stats"]["stdout_bytes"] > 0
    assert m["termvault.scale.cli_search_name"]["exit"] == 0
    assert m["termvault.scale.session_storage_open"]["total_sessions"] == m["termvault.scale.build"]["sessions"]
    assert m["anchor.json_index.process_stats"]["exit"] == 0 and m["anchor.json_index.process_search_name"]["exit"] == 0
    imports = m["termvault.import"]
    assert all(
        imports[k]["exit"] == 0 for k in ("python_pass", "import_termvault", "import_termvault_vault", "cli_version")
    )


def test_the_restore_and_memory_benchmarks_round_trip_their_sessions(tiny_run):
    m = tiny_run[0]["measurements"]
    assert m["termvault.restore"]["input_bytes"] >= 300_000  # restore_bench raises if bytes differ
    memory = m["termvault.memory"]
    assert memory["input_bytes"] >= 3_000_000 and 0 < memory["output_bytes"] < memory["input_bytes"]
    assert memory["archive_vmhwm_mb"] > 0 and memory["restore_vmhwm_mb"] > 0


def test_the_big_session_writer_makes_every_uuid_of_a_repetition_new(tmp_path):
    from bench.memory import write_claude_session

    sid, path = write_claude_session(tmp_path, 400_000, base_bytes=100_000)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    uuids = [r["uuid"] for r in records if "uuid" in r]
    assert path.stat().st_size >= 400_000 and path.name == f"{sid}.jsonl"
    assert len(uuids) == len(set(uuids))
    assert all(r.get("sessionId", sid) == sid for r in records)


def test_every_target_is_checked_and_a_missing_measurement_is_reported_as_such(tiny_run):
    from bench import report, targets

    empty = targets.check(res.new_results())
    assert empty and all(t["value"] is None and t["met"] is None for t in empty)
    checked = {t["target"]: t for t in targets.check(tiny_run[0])}
    assert checked["restore + verify a 10 MB session"]["value"] is not None
    assert checked["sweep vs old app (wall MB/s)"]["value"] is None  # no anchors in this run
    text = report.report(tiny_run[0])
    assert "## Targets" in text and "## Sweep profile" in text and "not measured" in text


def test_the_redaction_bench_measures_every_variant_against_the_previous_redactor(tmp_path, capsys):
    import subprocess

    from bench import redact_bench

    baseline = redact_bench.DEFAULT_BASELINE
    if (
        subprocess.run(
            ["git", "cat-file", "-e", f"{baseline}:src/termvault/redact.py"], cwd=REPO, capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip(f"commit {baseline} (the previous redactor) is not in this checkout's history")
    (tmp_path / "a.txt").write_text("export API_TOKEN=Zx8Qp2Lm9Rt4Vb7Nc1Wd5Ke3\nplain line\n" * 50)
    out = tmp_path / "r.json"
    assert redact_bench.main(["--corpus", str(tmp_path), "--reps", "1", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["corpus"]["findings"] == 50
    assert len(data["variants"]) == 5 and all(v["cpu_seconds"] >= 0 for v in data["variants"].values())


def test_the_delta_bench_grows_a_real_transcript_and_reports_its_cost(corpus):
    from bench import deltas_bench

    result = deltas_bench.run([3], corpus)
    rows = {r["variant"]: r for r in result["rows"]}
    assert set(rows) == {"deltas", "deltas, full text off", "whole versions (anchor)"}
    assert all(r["versions"] == 3 for r in rows.values())
    # Stored as deltas, three versions cost less than three whole copies.
    assert rows["deltas"]["archive_bytes"] < rows["whole versions (anchor)"]["archive_bytes"]


def test_the_app_sizes_bench_reports_every_pane_kind_and_snapshot_length():
    from bench import app_sizes

    results = app_sizes.run(seed=3, sessions=1)
    rows = {(r["kind"], r["lines"]): r for r in results["rows"]}
    assert set(rows) == {(k, n) for k in app_sizes.KINDS for n in app_sizes.LINES}
    for row in rows.values():
        assert row["seed_gzip9_bytes"] > 0 and row["termvault_bytes"] > 0 and row["ratio_median"] > 0
    assert "| claude | 50 |" in app_sizes.markdown(results)


def test_app_shaped_sessions_are_the_app_s_json_with_a_list_snapshot():
    import random

    from bench.app_sizes import app_session
    from bench.world import World

    w = World(random.Random(5), 1_000_000, 1_700_000_000.0)
    for kind in ("claude", "shell"):
        state = json.loads(app_session(w, 50, "s1", 1_700_000_000.0, kind))
        assert isinstance(state["output_snapshot"], list) and len(state["output_snapshot"]) == 50
        assert list(state) == [
            "session_id",
            "name",
            "working_directory",
            "created_at",
            "modified_at",
            "command_count",
            "last_command",
            "conversation_file",
            "output_snapshot",
            "is_active",
        ]


def test_the_dictionary_trains_on_its_own_shell_and_claude_panes_not_the_measured_generator():
    import ast
    import random
    from pathlib import Path

    from bench import build_dictionary, dictgen

    for module in (build_dictionary, dictgen):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not imported & {"world", "textgen", "bench.world", "bench.textgen"}, module.__name__
    r = random.Random(4)
    shell, _, _ = dictgen.shell_pane(r, "ana", "/home/ana/code/web", 50, 1_700_000_000.0)
    claude, _, _ = dictgen.claude_pane(r, "ana", "/home/ana/code/web", 50, 1_700_000_000.0)
    assert len(shell) >= 50 and any(line.startswith(("ana@", "➜  web", "(web) $")) for line in shell)
    assert len(claude) >= 50 and any(line.startswith("● ") for line in claude)
    kinds = set()
    for _ in range(40):
        _, data, _ = build_dictionary.sample_session(r, 1_700_000_000.0)
        snapshot = json.loads(data)["output_snapshot"]
        kinds.add("claude" if any(x.startswith("● ") for x in snapshot) else "shell" if snapshot else "empty")
    assert kinds >= {"claude", "shell"}


def test_the_checkout_comparison_sweeps_the_same_files_with_each_interpreter(corpus, tmp_path):
    from bench import compare

    small = tmp_path / "corpus"
    for folder, name in (
        ("codex_rollout_jsonl", "kvsankar__agent-history__tests__fixtures__real_sessions__codex__session-01.jsonl"),
        ("claude_code_jsonl", "kvsankar__agent-history__tests__fixtures__real_sessions__claude__session-01.jsonl"),
    ):
        (small / folder).mkdir(parents=True)
        (small / folder / name).write_bytes((corpus / folder / name).read_bytes())
    work = tmp_path / "work"
    work.mkdir()
    out = compare.run(small, work, {"a": sys.executable, "b": sys.executable}, rounds=1, say=lambda s: None)
    rows = [out[f"{c} {t}"] for c in "ab" for t in ("full text", "no full text")]
    assert all(r["sessions"] == 2 and r["failed"] == [] for r in rows)
    # Each against both anchors of the same round (tiny here: the ratios may round to 0).
    assert all(r[f"{k}_{a}"] >= 0 for r in rows for k in ("vs", "cpu_vs") for a in ("old-app", "gzip-6"))
    assert out["old-app"]["seconds"] > 0 and out["gzip-6"]["seconds"] > 0
    assert out["checkouts"] == {"a": sys.executable, "b": sys.executable}
