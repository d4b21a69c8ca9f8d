"""Load test: concurrent uploads by several supervisors against a local server.

::

    python -m web.loadtest                       # 20 uploads by 4 users, 15 s each
    python -m web.loadtest --uploads 40 --users 8 --json bench/results/web_load.json

Starts ``python -m web serve`` on a free loopback port with a temporary data
directory (nothing else is touched), logs the users in through the login form,
uploads distinct short recordings (cut from the example session, each padded
differently so no two are duplicates) all at once through the upload endpoint
the browser uses, and meanwhile keeps loading pages (session list, status
pages, status JSON, trainee summary) as supervisors waiting for results would.
When every upload has ended (a report or a clear error), each report page is
loaded once. Prints upload outcomes and the page-load latency percentiles; the
exit status is 1 if any upload was lost or ended without a clear reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DEFAULT_RECORDING = Path(__file__).parents[1] / "tests" / "fixtures" / "dialogue_client_led.wav"
PASSWORD = "load-test-password"
POLL_INTERVAL_S = 0.5


@dataclass
class Timings:
    """Latencies in seconds, per kind of page."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, kind: str, seconds: float) -> None:
        self.samples.setdefault(kind, []).append(seconds)

    def all(self) -> list[float]:
        return [s for values in self.samples.values() for s in values]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def make_recordings(source: Path, count: int, seconds: float, directory: Path) -> list[Path]:
    """``count`` distinct WAV files: the first ``seconds`` of ``source``, each padded by n*10 ms."""
    import numpy as np
    import soundfile as sf

    samples, rate = sf.read(source, dtype="float32", always_2d=False)
    excerpt = samples[: int(seconds * rate)]
    paths = []
    for n in range(count):
        padded = np.concatenate([np.zeros(int(0.01 * (n + 1) * rate), np.float32), excerpt])
        path = directory / f"session-{n:02d}.wav"
        sf.write(path, padded, rate, subtype="PCM_16")
        paths.append(path)
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(data_dir: Path, port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """The web app in its own process (as ``session-analyzer serve`` runs it)."""
    env = dict(os.environ)
    env |= {
        "SESSION_ANALYZER_DATA_DIR": str(data_dir),
        "SESSION_ANALYZER_MODEL": args.model,
        "SESSION_ANALYZER_PROCESSING": args.processing,
        "SESSION_ANALYZER_WORKERS": str(args.workers),
        "SESSION_ANALYZER_SECRET_KEY": "load-test",
        "HF_HUB_OFFLINE": "1",
        "PYANNOTE_METRICS_ENABLED": "0",
    }
    env.pop("SESSION_ANALYZER_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    log = (data_dir / "server.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "web", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).parents[1],
    )


def create_users(data_dir: Path, count: int) -> list[str]:
    """Supervisor accounts, made directly in the server's (SQLite) database."""
    from web.accounts import create_user
    from web.db import Database, migrate
    from web.settings import Settings

    database = Database(Settings(data_dir=data_dir).resolved_database_url)
    migrate(database.engine)
    names = [f"supervisor{n + 1}" for n in range(count)]
    with database.session() as db:
        for name in names:
            create_user(db, name, PASSWORD)
    database.dispose()
    return names


async def timed_get(
    client: httpx.AsyncClient, url: str, kind: str, timings: Timings, **kw: Any
) -> httpx.Response:
    started = time.perf_counter()
    response = await client.get(url, **kw)
    timings.add(kind, time.perf_counter() - started)
    if response.status_code >= 500:
        timings.errors.append(f"{kind} {url}: HTTP {response.status_code}")
    return response


async def log_in(client: httpx.AsyncClient, name: str, timings: Timings) -> str:
    page = await timed_get(client, "/login", "login page", timings)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the login page"
    response = await client.post(
        "/login", data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if response.status_code != 303:
        raise RuntimeError(f"login of {name} failed: HTTP {response.status_code}")
    upload_page = await timed_get(client, "/upload", "upload page", timings)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', upload_page.text)
    assert csrf
    return csrf.group(1)


async def upload(client: httpx.AsyncClient, csrf: str, path: Path, n: int) -> dict[str, Any]:
    started = time.perf_counter()
    response = await client.post(
        "/sessions",
        headers={"accept": "application/json", "x-csrf-token": csrf},
        data={"trainee": f"Trainee {n % 5 + 1}", "session_date": f"2025-03-{n + 1:02d}"},
        files={"recording": (path.name, path.read_bytes(), "audio/wav")},
    )
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    return {
        "n": n,
        "http": response.status_code,
        "upload_s": time.perf_counter() - started,
        "id": body.get("id"),
        "error": body.get("error"),
    }


async def browse_until(
    client: httpx.AsyncClient, ids: list[str], done: asyncio.Event, timings: Timings
) -> None:
    """A supervisor waiting: reload the list, status pages and status JSON until all end."""
    turn = 0
    while not done.is_set():
        await timed_get(client, "/sessions", "session list", timings)
        for public_id in ids:
            await timed_get(
                client,
                f"/sessions/{public_id}/status",
                "status json",
                timings,
                headers={"accept": "application/json"},
            )
        if ids:
            await timed_get(client, f"/sessions/{ids[turn % len(ids)]}", "session page", timings)
        if turn % 5 == 0:
            await timed_get(client, "/trainees", "trainee summary", timings)
        turn += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), POLL_INTERVAL_S)


async def wait_all(
    clients: dict[str, httpx.AsyncClient], owners: dict[str, str], timeout_s: float
) -> dict[str, dict[str, Any]]:
    """Poll the JSON API until every session is done or failed (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    final: dict[str, dict[str, Any]] = {}
    while len(final) < len(owners) and time.monotonic() < deadline:
        for public_id, owner in owners.items():
            if public_id in final:
                continue
            state = (await clients[owner].get(f"/api/sessions/{public_id}")).json()
            if state["status"] in ("done", "failed"):
                final[public_id] = state
        await asyncio.sleep(1.0)
    return final


async def run(
    args: argparse.Namespace, base_url: str, users: list[str], recordings: list[Path]
) -> dict[str, Any]:
    timings = Timings()
    limits = httpx.Limits(max_connections=args.uploads + 4)
    timeout = httpx.Timeout(120.0)
    clients = {
        name: httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) for name in users
    }
    try:
        csrf = dict(
            zip(
                users,
                await asyncio.gather(*(log_in(clients[n], n, timings) for n in users)),
                strict=True,
            )
        )
        started = time.perf_counter()
        assignments = [(users[n % len(users)], path, n) for n, path in enumerate(recordings)]
        done = asyncio.Event()
        uploads_task = asyncio.gather(
            *(upload(clients[u], csrf[u], path, n) for u, path, n in assignments)
        )
        browsers = [
            asyncio.create_task(browse_until(clients[name], [], done, timings)) for name in users
        ]
        uploaded = await uploads_task
        upload_wall_s = time.perf_counter() - started
        for task in browsers:
            task.cancel()
        owners = {r["id"]: assignments[r["n"]][0] for r in uploaded if r["http"] == 201}
        ids_by_user: dict[str, list[str]] = {}
        for public_id, owner in owners.items():
            ids_by_user.setdefault(owner, []).append(public_id)
        browsers = [
            asyncio.create_task(
                browse_until(clients[name], ids_by_user.get(name, []), done, timings)
            )
            for name in users
        ]
        final = await wait_all(clients, owners, args.timeout)
        done.set()
        await asyncio.gather(*browsers, return_exceptions=True)
        analysis_wall_s = time.perf_counter() - started
        for public_id, owner in owners.items():
            if final.get(public_id, {}).get("status") == "done":
                await timed_get(clients[owner], f"/sessions/{public_id}", "report page", timings)
    finally:
        for client in clients.values():
            await client.aclose()
    return {
        "uploaded": uploaded,
        "final": final,
        "owners": owners,
        "timings": timings,
        "upload_wall_s": upload_wall_s,
        "analysis_wall_s": analysis_wall_s,
    }


def summarize(outcome: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    uploaded, final, owners = outcome["uploaded"], outcome["final"], outcome["owners"]
    timings: Timings = outcome["timings"]
    refused = [u for u in uploaded if u["http"] != 201]
    done = [s for s in final.values() if s["status"] == "done"]
    failed = [s for s in final.values() if s["status"] == "failed"]
    lost = [i for i in owners if i not in final]
    unclear = [u for u in refused if not u["error"]] + [s for s in failed if not s["error"]]
    pages = timings.all()
    per_kind = {
        kind: {
            "count": len(values),
            "p50_ms": round(percentile(values, 0.5) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
        }
        for kind, values in sorted(timings.samples.items())
    }
    processing = [(_parse(s["finished_at"]) - _parse(s["created_at"])) for s in done]
    return {
        "uploads": len(uploaded),
        "users": args.users,
        "recording_s": args.seconds,
        "model": args.model,
        "processing": args.processing,
        "workers": args.workers,
        "accepted": len(owners),
        "refused": [{"http": u["http"], "error": u["error"]} for u in refused],
        "done": len(done),
        "failed": [{"id": s["id"], "error": s["error"]} for s in failed],
        "lost": lost,
        "unclear": len(unclear),
        "upload_wall_s": round(outcome["upload_wall_s"], 2),
        "upload_p95_s": round(percentile([u["upload_s"] for u in uploaded], 0.95), 3),
        "all_done_wall_s": round(outcome["analysis_wall_s"], 1),
        "queue_to_done_max_s": round(max(processing), 1) if processing else None,
        "page_loads": len(pages),
        "page_p50_ms": round(percentile(pages, 0.5) * 1000, 1),
        "page_p95_ms": round(percentile(pages, 0.95) * 1000, 1),
        "page_max_ms": round(max(pages) * 1000, 1) if pages else None,
        "page_server_errors": timings.errors,
        "pages": per_kind,
    }


def _parse(value: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(value).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m web.loadtest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--recording", type=Path, default=DEFAULT_RECORDING)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each upload")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--processing", default="auto", choices=["auto", "flow", "direct"])
    parser.add_argument("--workers", type=int, default=1, help="analysis processes")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for all analyses")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = parser.parse_args(argv)
    if not 1 <= args.uploads <= 200 or not 1 <= args.users <= 50:
        parser.error("keep it bounded: 1-200 uploads, 1-50 users")

    work = Path(tempfile.mkdtemp(prefix="web-loadtest-"))
    data_dir = work / "data"
    data_dir.mkdir()
    server = None
    try:
        recordings = make_recordings(args.recording, args.uploads, args.seconds, work)
        users = create_users(data_dir, args.users)
        port = free_port()
        server = start_server(data_dir, port, args)
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print((data_dir / "server.log").read_text(), file=sys.stderr)
                raise RuntimeError("the server did not start")
            time.sleep(0.3)
        outcome = asyncio.run(run(args, base_url, users, recordings))
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    summary = summarize(outcome, args)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"\n{summary['uploads']} uploads by {summary['users']} users: {summary['done']} done, "
        f"{len(summary['failed'])} failed, {len(summary['refused'])} refused, "
        f"{len(summary['lost'])} lost; all ended after {summary['all_done_wall_s']} s. "
        f"Page loads: {summary['page_loads']}, p50 {summary['page_p50_ms']} ms, "
        f"p95 {summary['page_p95_ms']} ms, max {summary['page_max_ms']} ms.",
        file=sys.stderr,
    )
    ok = not summary["lost"] and not summary["unclear"] and not summary["page_server_errors"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
