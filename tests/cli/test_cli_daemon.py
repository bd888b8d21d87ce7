"""``termvault daemon``: sweeps in the foreground and stops promptly on SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from .support import API, BLOG, DB, FRESH, invoke


def _start_daemon(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "termvault", "daemon", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _read_until(proc: subprocess.Popen, marker: str) -> list[str]:
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            break
    return seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_daemon_sweeps_at_once_logs_the_run_and_stops_on_a_signal(demo, sig):
    proc = _start_daemon("--interval", "24h")
    try:
        seen = _read_until(proc, "sweep 1:")
        assert any("started" in line for line in seen)
        assert "archived 3, failed 0, skipped 1" in seen[-1]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert "stopped after 1 sweep" in out
    assert "Traceback" not in err
    for sid in (API, DB, BLOG):
        assert not demo.files[sid].exists()
    assert demo.files[FRESH].exists()


def test_daemon_in_process_stops_when_signalled(demo):
    # SIGTERM is sent only once the daemon's handler is installed and the first sweep
    # has archived everything due, so the test process itself is never at risk.
    def stop_later() -> None:
        for _ in range(6000):
            installed = signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
            if installed and not any(demo.files[s].exists() for s in (API, DB, BLOG)):
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=stop_later, daemon=True)
    thread.start()
    result = invoke("daemon", "--interval", "1h")
    thread.join()
    assert result.exit_code == 0, result.output
    assert "sweep 1: archived 3" in result.stdout
    assert "stopped after 1 sweep" in result.stdout
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the previous handler is back


@pytest.mark.parametrize("interval", ["0", "soon", "-3h"])
def test_daemon_rejects_a_bad_interval(home, interval):
    result = invoke("daemon", "--interval", interval)
    assert result.exit_code == 2
    assert result.stderr.startswith("termvault: ")


def test_daemon_with_an_interval_longer_than_the_clock_can_wait_sleeps_until_stopped(demo):
    """``--interval 100000000d`` passed validation, swept, then died with OverflowError
    (timestamp out of range) waiting for the next run."""
    proc = _start_daemon("--interval", "100000000d")
    try:
        seen = _read_until(proc, "next sweep at")
        assert "next sweep at" in seen[-1]
        time.sleep(0.5)  # the wait has begun (or crashed)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "stopped after 1 sweep" in out


@pytest.mark.parametrize("command", ["daemon", "sweep"])
def test_an_unknown_source_kind_fails_before_the_daemon_starts_or_a_home_is_created(tmp_path, command):
    home = tmp_path / "new-home"
    result = invoke("--home", str(home), command, "--source", "bogus")
    assert result.exit_code == 2
    assert "Unknown source kind 'bogus'" in result.stderr
    assert "started" not in result.stdout
    assert not home.exists()


def test_daemon_logs_every_version_its_sweep_prunes_to_the_storage_cap(demo):
    """With ``max_total_bytes`` set, a daemon's sweep deleted archived versions (the only
    copy of a moved session) and its log said only "archived 3"."""
    (demo.home / "config.toml").write_text("max_total_bytes = 300\n")
    proc = _start_daemon("--interval", "24h")
    try:
        seen = _read_until(proc, "next sweep at")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    log = "".join(seen) + out
    assert proc.returncode == 0, err
    pruned = [line for line in log.splitlines() if " pruned " in line]
    assert pruned and "to stay under 300 B" in pruned[0]
    names = " ".join(pruned[1:])
    gone = [sid for sid in (API, DB, BLOG) if sid in names]
    assert gone and len(pruned) == 1 + len(gone)
