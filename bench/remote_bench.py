"""Benchmarks of the remote tier against a local moto server (S3 in a separate process).

1. Which client: obstore or fsspec/s3fs, on many small objects (what termvault's remote
   traffic looks like: units of a few KB to a few MB, manifests read with one ranged GET
   each). Both get the same work; each library's import time is taken in a fresh
   interpreter. s3fs is optional (skipped when it is not installed).
2. termvault itself, on a seeded synthetic home of native sessions: push (upload and
   read back every unit), evict everything, reindex a fresh home from the bucket alone
   (manifests only), and pull every unit back into a cache.

    python -m bench.remote_bench [--objects 300] [--size 8192] [--sessions 200] [--json OUT.json]

moto runs as a separate process so the client's CPU is not charged to the server (and the
reverse). Absolute numbers measure moto as much as the client: compare, do not quote.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

BUCKET = "termvault-bench"
RANGE = 64 * 1024  # what a manifest read asks for first
CONCURRENCY = 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_process() -> Iterator[str]:
    """A moto S3 server in a child process on a free loopback port; yields its URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        urllib.request.urlopen(urllib.request.Request(f"{url}/{BUCKET}", method="PUT")).read()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def import_seconds(module: str) -> float:
    """Median of three cold imports in fresh interpreters."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = sorted(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    )
    return runs[1]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_obstore(url: str, payloads: dict[str, bytes]) -> dict[str, float]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(BUCKET, prefix="obstore", endpoint=url, region="us-east-1", client_options={"allow_http": True})
    keys = list(payloads)
    out: dict[str, float] = {}
    out["put"] = timed(lambda: [obstore.put(store, k, payloads[k], mode="create") for k in keys])
    out["list"] = timed(lambda: [m for chunk in obstore.list(store) for m in chunk])
    out["head"] = timed(lambda: [obstore.head(store, k) for k in keys])
    out["range_get"] = timed(
        lambda: [bytes(obstore.get(store, k, options={"range": (0, RANGE)}).bytes()) for k in keys]
    )
    out["get"] = timed(lambda: [bytes(obstore.get(store, k).bytes()) for k in keys])

    async def many(fn):
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(k):
            async with gate:
                return await fn(k)

        return await asyncio.gather(*(one(k) for k in keys))

    async def put2(k):
        return await obstore.put_async(store, "c/" + k, payloads[k], mode="create")

    async def get2(k):
        return bytes(await (await obstore.get_async(store, k, options={"range": (0, RANGE)})).bytes_async())

    out["put_concurrent"] = timed(lambda: asyncio.run(many(put2)))
    out["range_get_concurrent"] = timed(lambda: asyncio.run(many(get2)))
    return out


def bench_s3fs(url: str, payloads: dict[str, bytes]) -> dict[str, float]:
    import s3fs

    fs = s3fs.S3FileSystem(
        key=os.environ["AWS_ACCESS_KEY_ID"],
        secret=os.environ["AWS_SECRET_ACCESS_KEY"],
        endpoint_url=url,
        client_kwargs={"region_name": "us-east-1"},
        use_listings_cache=False,
    )
    root = f"{BUCKET}/s3fs"
    keys = list(payloads)
    out: dict[str, float] = {}
    out["put"] = timed(lambda: [fs.pipe_file(f"{root}/{k}", payloads[k]) for k in keys])
    out["list"] = timed(lambda: fs.find(root))
    out["head"] = timed(lambda: [fs.info(f"{root}/{k}") for k in keys])
    out["range_get"] = timed(lambda: [fs.cat_file(f"{root}/{k}", start=0, end=RANGE) for k in keys])
    out["get"] = timed(lambda: [fs.cat_file(f"{root}/{k}") for k in keys])
    out["put_concurrent"] = timed(lambda: fs.pipe({f"{root}/c/{k}": payloads[k] for k in keys}, batch_size=CONCURRENCY))
    out["range_get_concurrent"] = timed(
        lambda: fs.cat_ranges(
            [f"{root}/{k}" for k in keys], [0] * len(keys), [RANGE] * len(keys), batch_size=CONCURRENCY
        )
    )
    return out


def bench_termvault(url: str, sessions: int, seed: int) -> dict[str, float]:
    """Push, evict, reindex from the bucket and pull, on ``sessions`` native sessions."""
    import tempfile
    from pathlib import Path

    from termvault.state import SessionState
    from termvault.storage import SessionStorage
    from termvault.vault import Vault

    bucket = f"tv-bench-{seed}-{sessions}-{int(time.time())}"
    urllib.request.urlopen(urllib.request.Request(f"{url}/{bucket}", method="PUT")).read()
    rng = random.Random(seed)
    words = ["deploy", "kubectl", "rollout", "pytest", "terraform", "plan", "error", "retry", "cache", "build"]
    out: dict[str, float] = {"sessions": sessions}
    with tempfile.TemporaryDirectory() as tmp:
        a_home, c_home = Path(tmp) / "a", Path(tmp) / "c"
        settings = {"remote": f"s3://{bucket}/tv", "remote_endpoint": url, "full_text": False}
        now = time.time()
        storage = SessionStorage(a_home, enable_auto_archive=False)
        for i in range(sessions):
            modified = now - (40 + i % 300) * 86400.0
            text = "\n".join(" ".join(rng.choices(words, k=12)) for _ in range(rng.randint(20, 400)))
            path = storage.save_session(
                SessionState(
                    session_id=f"s{i:05d}",
                    name=f"session {i}",
                    working_directory=f"/home/me/p{i % 17}",
                    created_at=modified - 600,
                    modified_at=modified,
                    output_snapshot=text,
                )
            )
            os.utime(path, (modified, modified))
        with Vault(a_home, **{**settings, "remote": None}) as local:
            out["sweep_s"] = timed(local.sweep)
        with Vault(a_home, remote_host="alpha", **settings) as a:
            report = None

            def push():
                nonlocal report
                report = a.remote_push()

            out["push_s"] = timed(push)
            out["push_bytes"] = report.bytes_uploaded
            out["evict_s"] = timed(lambda: a.prune(max_bytes=0))
        with Vault(c_home, remote_host="gamma", **settings) as c:
            out["reindex_from_bucket_s"] = timed(lambda: c.reindex(remote=True))
            out["pull_all_s"] = timed(lambda: c.remote_pull())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--size", type=int, default=8192, help="bytes per object")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sessions", type=int, default=200, help="sessions in the termvault part (0 = skip)")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    rng = random.Random(args.seed)
    payloads = {
        f"host/2024/{i % 12 + 1:02d}/{i:06d}_s{i}.tar.zst": rng.randbytes(args.size) for i in range(args.objects)
    }
    results: dict[str, Any] = {
        "objects": args.objects,
        "size": args.size,
        "python": sys.version.split()[0],
    }
    clients = [("obstore", bench_obstore)]
    try:
        import s3fs  # noqa: F401

        clients.append(("s3fs", bench_s3fs))
    except ImportError:
        print("bench: s3fs is not installed; only obstore is measured (pip install s3fs)", file=sys.stderr)
    results["import_seconds"] = {name: round(import_seconds(name), 3) for name, _ in clients}
    with moto_process() as url:
        for name, fn in clients:
            times = fn(url, payloads)
            results[name] = {k: round(v, 3) for k, v in times.items()}
        if args.sessions:
            results["termvault"] = {k: round(v, 3) for k, v in bench_termvault(url, args.sessions, args.seed).items()}
    names = [name for name, _ in clients]
    print(f"{args.objects} objects of {args.size} B against moto (separate process), seconds (ms per object):")
    print(f"{'step':<22}" + "".join(f"{n:>20}" for n in names))
    for step in results["obstore"]:
        cells = [f"{results[n][step]:.3f} ({results[n][step] * 1000 / args.objects:.1f})" for n in names]
        print(f"{step:<22}" + "".join(f"{c:>20}" for c in cells))
    print(f"{'import':<22}" + "".join(f"{results['import_seconds'][n]:>20.3f}" for n in names))
    if "termvault" in results:
        t = results["termvault"]
        n = int(t["sessions"])
        print(f"\ntermvault, {n} native sessions ({t['push_bytes'] / 1e6:.1f} MB of archives), seconds (ms per unit):")
        for key, label in (
            ("sweep_s", "sweep (no remote)"),
            ("push_s", "push: upload + read back"),
            ("evict_s", "evict all (HEAD each)"),
            ("reindex_from_bucket_s", "reindex from bucket"),
            ("pull_all_s", "pull all into a cache"),
        ):
            print(f"{label:<28}{t[key]:>8.2f}  ({t[key] * 1000 / n:.1f})")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
