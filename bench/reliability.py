"""The long reliability run: the scenarios of ``tests/reliability`` for many rounds, with
figures (rounds run, faults injected, faults detected, sessions lost).

    python -m bench.reliability --rounds 40          # from the repository root
    python bench/reliability.py --rounds 40 --seed 7 --json results.json

``--rounds N`` runs N SIGKILL rounds of each killed operation (sweep, background sweeper,
restore, prune, reindex) and N/5 rounds (at least one) of every other scenario. Every round
builds its own home in a scratch folder; a round that finds a problem keeps its folder
(``--work``) and is listed at the end. The exit status is 1 if any session was lost or any
check failed.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from termvault.errors import DataError  # noqa: E402
from termvault.vault import Vault  # noqa: E402
from tests.reliability import harness as h  # noqa: E402
from tests.reliability.test_corruption import FAULTS, add_legacy, corrupt_archive, damage_index  # noqa: E402
from tests.reliability.test_write_faults import STEPS, disk_full_at  # noqa: E402


@dataclass
class Tally:
    """Figures of one scenario. ``faults``: faults injected (a SIGKILL that landed while the
    operation ran, a failed write, a damaged file, a sweep racing a writer); ``detected``:
    those termvault reported (a per-session failure, a verify finding, a clear error), None
    where there is nothing to report (a kill); ``recovered``: faults after which the home
    checked out whole (reopened, reconciled or rebuilt); ``lost``: sessions with neither
    their file nor a verified archive (or, for appends, a line in neither)."""

    name: str
    rounds: int = 0
    faults: int = 0
    detected: int | None = None
    recovered: int | None = 0
    lost: int = 0
    completed_before_kill: int = 0
    harmless: int = 0
    removals: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def fail(self, where: Path, what: str) -> None:
        self.problems.append(f"{where}: {what}")


class Run:
    def __init__(self, work: Path, seed: int, keep: bool, verbose: bool):
        self.work, self.seed, self.keep, self.verbose = work, seed, keep, verbose
        self.tallies: list[Tally] = []
        self._n = 0

    def folder(self, name: str) -> Path:
        self._n += 1
        return self.work / f"{self._n:05d}-{name}"

    def done_with(self, folder: Path, ok: bool) -> None:
        if ok and not self.keep:
            shutil.rmtree(folder, ignore_errors=True)

    def scenario(self, name: str, rounds: int, body: Callable[[Tally, int], None], recovers: bool = True) -> Tally:
        t = Tally(name, recovered=0 if recovers else None)
        started = time.monotonic()
        for n in range(rounds):
            before = len(t.problems)
            try:
                body(t, n)
            except Exception:
                t.problems.append(f"{name} round {n}: {traceback.format_exc(limit=3)}")
            t.rounds += 1
            if self.verbose:
                state = "ok" if len(t.problems) == before else t.problems[-1]
                print(f"  {name} {n + 1}/{rounds}: {state}", flush=True)
        t.seconds = time.monotonic() - started
        self.tallies.append(t)
        print(row(t), flush=True)
        return t


def row(t: Tally) -> str:
    detected = "-" if t.detected is None else str(t.detected)
    recovered = "-" if t.recovered is None else str(t.recovered)
    return (
        f"{t.name:<40} {t.rounds:>6} {t.faults:>7} {detected:>8} {recovered:>9} {t.lost:>5} "
        f"{len(t.problems):>8} {t.seconds:>8.1f}"
    )


HEADER = f"{'scenario':<40} {'rounds':>6} {'faults':>7} {'detected':>8} {'recovered':>9} {'lost':>5} {'problems':>8} {'seconds':>8}"


# -- scenarios ------------------------------------------------------------------------------
def kill_scenario(run: Run, op: str, rounds: int) -> None:
    window = h.measure(op, run.folder(f"measure-{op}"))
    delays = h.spread(rounds, window, run.seed * 100 + h.KILL_OPS.index(op))

    def body(t: Tally, n: int) -> None:
        folder = run.folder(f"kill-{op}")
        r = h.kill_round(op, folder, seed=run.seed * 1000 + n, delay=delays[n])
        t.faults += r.killed
        t.recovered += r.killed and r.check.ok
        t.completed_before_kill += not r.killed
        t.lost += len(r.check.lost)
        if not r.check.ok:
            t.fail(folder, f"killed after {r.delay:.3f}s: {r.check.describe()}")
        run.done_with(folder, r.check.ok)

    run.scenario(f"SIGKILL during {op}", rounds, body)


def chained_kill_scenario(run: Run, rounds: int) -> None:
    window = h.measure("sweep", run.folder("measure-chain"))
    rng = random.Random(run.seed)

    def body(t: Tally, n: int) -> None:
        folder = run.folder("kill-chain")
        delays = [rng.uniform(0, window) * rng.choice([0.1, 0.5, 1.0]) for _ in range(5)]
        r = h.chained_kills(folder, seed=run.seed * 1000 + n, delays=delays)
        t.faults += len(delays)
        t.recovered += len(delays) if r.check.ok else 0
        t.lost += len(r.check.lost)
        if not r.check.ok:
            t.fail(folder, f"delays {[round(d, 3) for d in delays]}: {r.check.describe()}")
        run.done_with(folder, r.check.ok)

    run.scenario("5 SIGKILLs in a row (reconciling)", rounds, body)


def crash_step_scenario(run: Run, rounds: int) -> None:
    """The sweep kills itself at an exact point of the write protocol (each step in turn,
    at a random occurrence), across two sweeps through one Vault."""
    rng = random.Random(run.seed)

    def body(t: Tally, n: int) -> None:
        for step in h.CRASH_STEPS:
            folder = run.folder(f"crash-{step}")
            nth = rng.randint(1, 10)  # every step occurs at least 10 times in this home
            r = h.crash_at(folder, seed=run.seed * 1000 + n, step=step, nth=nth)
            t.faults += r.killed
            t.recovered += r.killed and r.check.ok
            t.lost += len(r.check.lost)
            if not (r.killed and r.check.ok):
                t.fail(folder, f"died at {step} #{nth} (killed={r.killed}): {r.check.describe()}")
            run.done_with(folder, r.killed and r.check.ok)

    run.scenario("SIGKILL at each write step", rounds, body)


def disk_full_scenario(run: Run, rounds: int) -> None:
    def body(t: Tally, n: int) -> None:
        for step in STEPS:
            folder = run.folder(f"enospc-{step}")
            world = h.build_world(folder, native=3, claude=2, seed=n)
            hook = disk_full_at(step, times=None if n % 2 == 0 else 1)
            with Vault(world.home, fault=hook) as v:
                report = v.sweep(older_than=7, kinds=list(h.KINDS))
                verify = v.verify()
            t.faults += len(hook.calls)
            t.detected = (t.detected or 0) + sum(os.strerror(errno.ENOSPC) in f.reason for f in report.failed)
            ok = len(report.failed) == len(hook.calls)
            ok &= all(
                world.sessions[f.session_id].path.read_bytes() == world.sessions[f.session_id].data
                for f in report.failed
            )
            ok &= not (h.leftovers(world) or verify.orphaned or verify.temp_files or verify.corrupt or verify.missing)
            with Vault(world.home) as v:
                ok &= not v.sweep(older_than=7, kinds=list(h.KINDS)).failed
            check = h.check_world(world)
            t.lost += len(check.lost)
            whole = ok and check.ok and check.archived == len(world.sessions)
            t.recovered += len(hook.calls) if whole else 0
            if not whole:
                t.fail(folder, f"ENOSPC at {step}: {check.describe()}")
            run.done_with(folder, whole)

    run.scenario("ENOSPC at each write step", rounds, body)


def file_size_limit_scenario(run: Run, rounds: int) -> None:
    def body(t: Tally, n: int) -> None:
        folder = run.folder("rlimit-fsize")
        world = h.build_world(folder, native=3, claude=1, lines=40, seed=n)
        rng = random.Random(n)
        old = min(s.path.stat().st_mtime for s in world.sessions.values())
        big = h.add_native(
            world, "big-session", old - 99, "".join(rng.choices("!#$%&()*+,;<=>?@[]^`{|}~", k=1_200_000))
        )
        Vault(world.home).close()
        result = h.run_worker(world, "fsize-sweep", "--limit", str(512 * 1024))
        t.faults += 1
        failed = [f for f in result["failed"] if os.strerror(errno.EFBIG) in f["reason"]]
        t.detected = (t.detected or 0) + ([f["session_id"] for f in failed] == [big.session_id])
        check = h.check_world(world)
        ok = check.ok and not h.run_worker(world, "sweep")["failed"]
        check = h.check_world(world)
        t.lost += len(check.lost)
        whole = ok and check.ok and check.archived == len(world.sessions)
        t.recovered += whole
        if not whole:
            t.fail(folder, check.describe())
        run.done_with(folder, whole)

    run.scenario("RLIMIT_FSIZE (EFBIG) sweep", rounds, body)


def archive_damage_scenario(run: Run, rounds: int) -> None:
    from tests.reliability.test_corruption import archived_world

    def body(t: Tally, n: int) -> None:
        folder = run.folder("archive-damage")
        world = archived_world(folder, seed=n)
        rng = random.Random(run.seed * 1000 + n)
        with Vault(world.home) as v:
            injured = {}
            for e in v.index.all_rows():
                if rng.random() < 0.25:
                    continue
                kind = rng.choice(FAULTS)
                corrupt_archive(v.archive_file(e), kind, rng)
                injured[e.archive_path] = kind
            report = v.verify()
        found = set(report.missing) | {p for p, _ in report.corrupt}
        t.faults += len(injured)
        t.detected = (t.detected or 0) + len(found & set(injured))
        if found != set(injured):
            t.fail(folder, f"injected {injured}, verify found {sorted(found)}")
        run.done_with(folder, found == set(injured))

    # Nothing can bring a destroyed archive back (its session was moved into it): the
    # point is that verify names every one of them.
    run.scenario("archive bit flips/truncation/deletion", rounds, body, recovers=False)


def bit_flip_self_check_scenario(run: Run, rounds: int) -> None:
    """Flip one bit of one archive and rebuild the index from archive/ alone: the archive
    must then be refused by its own checks (zstd checksum, manifest hashes)."""
    from tests.reliability.test_corruption import archived_world

    def body(t: Tally, n: int) -> None:
        folder = run.folder("self-check")
        world = archived_world(folder, seed=n)
        rng = random.Random(run.seed * 7919 + n)
        with Vault(world.home) as v:
            entries = v.index.all_rows()
            for e in entries:
                path = v.archive_file(e)
                original = path.read_bytes()
                corrupt_archive(path, "flip", rng)
                v.reindex()
                t.faults += 1
                back = v.index.get_entry(e.session_id, e.version)
                t.detected = (t.detected or 0) + (back is None)
                # Accepted only if every member still matched its sha256 on the way in:
                # the flip then hit a byte that carries no session data.
                if back is not None and back.content_sha256 == e.content_sha256:
                    t.harmless += 1
                elif back is not None:
                    t.fail(folder, f"a flipped bit in {e.archive_path} changed what was indexed")
                path.write_bytes(original)
            v.reindex()
            ok = v.verify().clean
        t.recovered += len(entries) if ok else 0
        if not ok:
            t.fail(folder, "the home did not verify clean after the original archives came back")
        run.done_with(folder, ok and not t.problems)

    run.scenario("bit flip seen by the archive alone", rounds, body)


def index_damage_scenario(run: Run, rounds: int) -> None:
    from tests.reliability.test_corruption import archived_world

    hows = ["garbage-header", "truncated", "damaged-page", "deleted", "emptied"]

    def body(t: Tally, n: int) -> None:
        for how in hows:
            folder = run.folder(f"index-{how}")
            world = archived_world(folder, seed=n)
            add_legacy(world.home, "legacy-x", 1_600_000_000.0)
            with Vault(world.home) as v:
                v.import_legacy()
            rows = h.index_rows(world.home)
            index = world.home / "archive_index.sqlite3"
            if how in ("deleted", "emptied"):
                for suffix in ("-wal", "-shm"):
                    Path(f"{index}{suffix}").unlink(missing_ok=True)
                index.unlink() if how == "deleted" else index.write_bytes(b"")
            else:
                damage_index(world.home, how)
            t.faults += 1
            with Vault(world.home) as v:
                try:
                    report = v.verify()
                    seen = bool(report.orphaned) and not report.clean
                except DataError as exc:
                    seen = "reindex" in str(exc)
                t.detected = (t.detected or 0) + seen
                v.reindex()
            same = h.index_rows(world.home) == rows
            t.recovered += same
            if not (seen and same):
                t.fail(folder, f"index {how}: detected={seen}, rebuilt equal={same}")
            run.done_with(folder, seen and same)

    run.scenario("index file damage + reindex", rounds, body)


def appender_scenario(run: Run, rounds: int, mode: str) -> None:
    """A process appends to a transcript while sweeps run; every line written must be in
    the live file or an archived version, and (copy mode) every version a prefix."""

    def body(t: Tally, n: int) -> None:
        folder = run.folder(f"append-{mode}")
        world = h.build_world(folder, native=0, claude=1, seed=n, settle_seconds=0)
        if mode == "move":
            cfg = world.home / "config.toml"
            cfg.write_text(cfg.read_text().replace('mode = "copy"', 'mode = "move"'))
        (s,) = world.of_kind("claude-code")
        lines = 400
        writer = subprocess.Popen(
            [
                sys.executable,
                str(h.WORKERS),
                "append",
                str(s.path),
                "--lines",
                str(lines),
                "--interval",
                str(random.Random(n).choice([0.0005, 0.002, 0.01])),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=h.worker_env(world),
        )
        writer.stdout.readline()
        sweeps = 0
        with Vault(world.home) as v:
            while writer.poll() is None or sweeps < 2:
                v.sweep(older_than=0, kinds=["claude-code"])
                sweeps += 1
            v.sweep(older_than=0, kinds=["claude-code"])  # once more, after the last line
            versions = []
            for e in v.index.versions(s.session_id):
                _, members = h.archive_members(v, e)
                versions.extend(members.values())
            removed = v.index.query("SELECT COUNT(*) FROM sessions WHERE source_removed = 1")[0][0]
            clean = v.verify().clean
        live = s.path.read_bytes() if s.path.exists() else b""
        seen = set().union(*(h.line_numbers(data) for data in [live, *versions]))
        missing = sorted(set(range(lines)) - seen)
        t.faults += sweeps  # each sweep raced the writer
        t.lost += bool(missing)
        ok = clean and not missing
        if mode == "copy":
            ok &= all(live.startswith(d) for d in versions) and (not versions or versions[-1] == live)
        t.recovered += sweeps if ok else 0
        t.removals += removed
        if not ok:
            t.fail(folder, f"{mode}: {len(missing)} lines missing {missing[:5]}, verify clean={clean}")
        run.done_with(folder, ok)

    run.scenario(f"appends during sweeps ({mode} mode)", rounds, body)


def racing_sweepers_scenario(run: Run, rounds: int) -> None:
    def body(t: Tally, n: int) -> None:
        folder = run.folder("race")
        world = h.build_world(folder, native=10, claude=3, seed=n)
        go = world.root / "go"
        a = h.Worker(world, "sweep", "--go", str(go))
        b = h.Worker(world, "sweep", "--go", str(go))
        go.touch()
        ra, rb = a.finish(), b.finish()
        t.faults += 1
        both = list(ra["archived"]) + list(rb["archived"])
        ok = sorted(both) == sorted(world.sessions) and not ra["failed"] and not rb["failed"]
        check = h.check_world(world)
        t.recovered += ok and check.ok
        t.lost += len(check.lost)
        if not (ok and check.ok):
            t.fail(folder, f"{len(both)} archivings for {len(world.sessions)} sessions: {check.describe()}")
        run.done_with(folder, ok and check.ok)

    run.scenario("two sweepers racing", rounds, body)


def _cli_sweep_loop(world: h.World, stop: Path) -> subprocess.Popen:
    """A shell loop of `termvault sweep` subprocesses (as cron or a timer runs them)."""
    script = (
        f'while [ ! -e "{stop}" ]; do "{sys.executable}" -m termvault sweep --older-than 0 '
        f"--source claude-code >/dev/null 2>&1; done"
    )
    return subprocess.Popen(
        ["sh", "-c", script], env=h.worker_env(world), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def append_race_scenario(run: Run, rounds: int) -> None:
    """Issue 20.1: a writer opens, appends and closes while two CLI sweep loops and a
    library sweep loop run in move mode. Every line must be in a live file (the transcript
    or a kept copy) or in an archived version of some session."""

    def body(t: Tally, n: int) -> None:
        folder = run.folder("append-race")
        world = h.build_world(folder, native=0, claude=1, seed=n, settle_seconds=0)
        cfg = world.home / "config.toml"
        cfg.write_text(cfg.read_text().replace('mode = "copy"', 'mode = "move"'))
        (s,) = world.of_kind("claude-code")
        lines = 1500
        writer = subprocess.Popen(
            [
                sys.executable,
                str(h.WORKERS),
                "append",
                str(s.path),
                "--lines",
                str(lines),
                "--interval",
                str(random.Random(n).choice([0.0, 0.0005, 0.002])),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=h.worker_env(world),
        )
        writer.stdout.readline()
        stop = folder / "stop"
        loops = [_cli_sweep_loop(world, stop) for _ in range(2)]
        sweeps = 0
        try:
            with Vault(world.home, lock_timeout=60) as v:
                while writer.poll() is None:
                    v.sweep(older_than=0, kinds=["claude-code"])
                    sweeps += 1
        finally:
            stop.touch()
            for p in loops:
                p.wait(120)
        with Vault(world.home, lock_timeout=60) as v:
            v.sweep(older_than=0, kinds=["claude-code"])  # kept copies are sessions: swept too
            archived = []
            for e in v.index.all_rows():
                if e.status == "archived":
                    _, members = h.archive_members(v, e)
                    archived.extend(members.values())
            report = v.verify()
        live = [p.read_bytes() for p in s.path.parent.iterdir() if p.is_file()]
        seen = set().union(*(h.line_numbers(d) for d in [*live, *archived]))
        missing = sorted(set(range(lines)) - seen)
        t.faults += sweeps + 2
        t.lost += len(missing)
        ok = not missing and not report.stranded
        t.recovered += ok
        if not ok:
            t.fail(folder, f"{len(missing)} lines missing {missing[:5]}, stranded={report.stranded}")
        run.done_with(folder, ok)

    run.scenario("appender vs CLI+library move sweeps", rounds, body)


def index_loss_scenario(run: Run, rounds: int) -> None:
    """Issue 20.2: the index is deleted between sweeps while the app saves new states;
    every state stays reachable, versions never repeat, nothing is orphaned."""

    def body(t: Tally, n: int) -> None:
        folder = run.folder("index-loss")
        world = h.build_world(folder, native=4, claude=1, seed=n)
        rng = random.Random(n)
        ok = True
        for step in range(3):
            h.archive_everything(world)
            for name in ("archive_index.sqlite3", "archive_index.sqlite3-wal", "archive_index.sqlite3-shm"):
                (world.home / name).unlink(missing_ok=True)
            t.faults += 1
            for s in rng.sample(world.of_kind("native"), 2):
                h.add_native(
                    world, s.session_id, time.time() - (30 - step) * h.DAY, h.text_lines(rng, 20) + f"\nstate {step}"
                )
        with Vault(world.home) as v:
            v.sweep(older_than=7, kinds=list(h.KINDS))
            report = v.verify()
            for s in world.of_kind("native"):
                versions = [e.version for e in v.index.versions(s.session_id)]
                if versions != list(range(1, len(versions) + 1)):
                    ok = False
                    t.fail(folder, f"{s.session_id} has versions {versions}")
                newest = v.get(s.session_id)
                _, members = h.archive_members(v, newest)
                if s.data not in members.values():
                    ok = False
                    t.lost += 1
                    t.fail(folder, f"{s.session_id}: its newest state is not its newest version")
        ok &= report.clean
        if not report.clean:
            t.fail(folder, f"verify: {report.to_dict()}")
        t.recovered += ok
        run.done_with(folder, ok)

    run.scenario("index deleted between sweeps", rounds, body)


def atomic_replace_scenario(run: Run, rounds: int) -> None:
    """Issue 20.4: the app replaces a history file atomically, again and again, while
    sweeps run: every archived version must be a state that existed (valid JSON, its
    output a prefix of the final one) and the last state must survive."""

    def body(t: Tally, n: int) -> None:
        folder = run.folder("atomic-replace")
        world = h.build_world(folder, native=0, claude=0, seed=n, settle_seconds=0)
        saves = 150
        w = subprocess.Popen(
            [sys.executable, str(h.WORKERS), "resave", str(world.home), "--times", str(saves), "--interval", "0.002"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=h.worker_env(world),
        )
        w.stdout.readline()
        sweeps, phantoms = 0, 0
        with Vault(world.home) as v:
            while w.poll() is None:
                v.sweep(older_than=7, kinds=["native"])
                sweeps += 1
            v.sweep(older_than=7, kinds=["native"])
            final = f"output line {saves - 1}"
            found = False
            for e in v.index.versions("resaved"):
                _, members = h.archive_members(v, e)
                for data in members.values():
                    try:
                        snap = json.loads(data).get("output_snapshot", "")
                    except ValueError:
                        phantoms += 1
                        continue
                    found |= snap.endswith(final)
            live = list(world.home.joinpath("history").glob("*resaved*.json"))
            found |= any(p.read_text().find(final) >= 0 for p in live)
            clean = v.verify().clean
        t.faults += sweeps
        t.lost += phantoms + (not found)
        ok = not phantoms and found and clean
        t.recovered += ok
        if not ok:
            t.fail(folder, f"{phantoms} phantom versions, last state kept={found}, verify clean={clean}")
        run.done_with(folder, ok)

    run.scenario("atomic replacement during sweeps", rounds, body)


def app_and_daemon_scenario(run: Run, rounds: int) -> None:
    """Issue 20.3: the app's background archiver (native sessions) and `termvault daemon`
    run side by side while new sessions of both kinds appear: every agent transcript and
    every due native session must be archived, none lost."""

    def body(t: Tally, n: int) -> None:
        folder = run.folder("app-daemon")
        world = h.build_world(folder, native=3, claude=2, seed=n)
        rng = random.Random(n)
        app = subprocess.Popen(
            [
                sys.executable,
                str(h.WORKERS),
                "background",
                str(world.home),
                "--interval-hours",
                str(0.5 / 3600),
                "--seconds",
                "6",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=h.worker_env(world),
        )
        app.stdout.readline()
        time.sleep(0.3)  # the app takes the native sweeper lock first, as at login
        daemon = subprocess.Popen(
            [sys.executable, "-m", "termvault", "daemon", "--interval", "1s", "--older-than", "7d"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=h.worker_env(world),
        )
        old = time.time() - 40 * h.DAY
        for step in range(3):  # sessions keep appearing while both run
            time.sleep(1.0)
            h.add_native(world, f"late-{n}-{step}", old, h.text_lines(rng, 30))
            h.add_claude(
                world,
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                old,
                [h.text_lines(rng, 3) for _ in range(6)],
            )
        app.communicate(timeout=120)
        time.sleep(2.5)  # one more daemon round after the last session appeared
        daemon.terminate()
        out, _ = daemon.communicate(timeout=120)
        with Vault(world.home) as v:
            missing = [s.session_id for s in world.sessions.values() if v.index.get_entry(s.session_id) is None]
        check = h.check_world(world)
        t.faults += 1
        t.lost += len(check.lost)
        ok = not missing and check.ok and "sweeps native sessions" in out
        t.recovered += ok
        if not ok:
            t.fail(folder, f"not archived: {missing}; {check.describe()}")
        run.done_with(folder, ok)

    run.scenario("app sweeper next to the daemon", rounds, body)


# -- main -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.reliability", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=20, help="SIGKILL rounds per killed operation (default 20)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, help="scratch folder (default: a new temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep every round's home, not only failed ones")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--only", help="comma-separated scenario names or parts of them (kill, append, ...)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="termvault-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    # In-process vaults and workers must never see the real ~/.claude or ~/.multi-term.
    os.environ["HOME"] = str(work / "home-of-the-run")
    Path(os.environ["HOME"]).mkdir(exist_ok=True)
    for var in [v for v in os.environ if v.startswith("TERMVAULT_")]:
        del os.environ[var]

    # termvault logs every failure it reports; keep them out of the table.
    logging.basicConfig(
        filename=work / "termvault.log", level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run = Run(work, args.seed, args.keep, args.verbose)
    n, few = args.rounds, max(1, args.rounds // 5)
    scenarios: dict[str, Callable[[], None]] = {
        **{f"kill-{op}": (lambda op=op: kill_scenario(run, op, n)) for op in h.KILL_OPS},
        "kill-chain": lambda: chained_kill_scenario(run, few),
        "crash-steps": lambda: crash_step_scenario(run, few),
        "append-copy": lambda: appender_scenario(run, few, "copy"),
        "append-move": lambda: appender_scenario(run, few, "move"),
        "race": lambda: racing_sweepers_scenario(run, few),
        "append-race": lambda: append_race_scenario(run, few),
        "index-loss": lambda: index_loss_scenario(run, few),
        "atomic-replace": lambda: atomic_replace_scenario(run, few),
        "app-daemon": lambda: app_and_daemon_scenario(run, few),
        "enospc": lambda: disk_full_scenario(run, few),
        "fsize": lambda: file_size_limit_scenario(run, few),
        "archive-damage": lambda: archive_damage_scenario(run, few),
        "self-check": lambda: bit_flip_self_check_scenario(run, few),
        "index-damage": lambda: index_damage_scenario(run, few),
    }
    chosen = [name for name in scenarios if not args.only or any(o in name for o in args.only.split(","))]
    started = time.monotonic()
    print(f"termvault reliability run: --rounds {n} --seed {args.seed}, scratch {work}", flush=True)
    print(HEADER, flush=True)
    for name in chosen:
        scenarios[name]()
    seconds = time.monotonic() - started

    ts = run.tallies
    total = Tally(
        "TOTAL",
        rounds=sum(t.rounds for t in ts),
        faults=sum(t.faults for t in ts),
        detected=sum(t.detected or 0 for t in ts),
        recovered=sum(t.recovered or 0 for t in ts),
        lost=sum(t.lost for t in ts),
        completed_before_kill=sum(t.completed_before_kill for t in ts),
        harmless=sum(t.harmless for t in ts),
        removals=sum(t.removals for t in ts),
        seconds=seconds,
        problems=[p for t in ts for p in t.problems],
    )
    print("-" * len(HEADER))
    print(row(total))
    reportable = sum(t.faults for t in ts if t.detected is not None)
    print(f"faults termvault had to report: {reportable}, reported: {total.detected}")
    print(f"kills that landed after the operation had finished (not counted as faults): {total.completed_before_kill}")
    print(f"bit flips the archive alone accepted, every session byte intact: {total.harmless}")
    print(f"move-mode sources removed while a writer was appending, no line lost: {total.removals}")
    for p in total.problems:
        print("PROBLEM", p)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rounds": n,
                    "seed": args.seed,
                    "python": sys.version.split()[0],
                    "scenarios": [asdict(t) for t in run.tallies],
                    "total": asdict(total),
                },
                indent=1,
            )
        )
    if not total.problems and not args.keep and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if total.problems or total.lost else 0


if __name__ == "__main__":
    sys.exit(main())
