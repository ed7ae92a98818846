"""Load test of ``atomcast serve``: latency at a fixed request rate over loopback.

Starts ``atomcast serve`` on the demo (the whole process, ``--workers 2``) and drives it with
an open-loop asyncio client: request *i* is due at ``start + i / rate`` whatever happened to
the ones before, and its latency is measured from that due time, so a server that stalls is
charged for the requests queued behind the stall (no coordinated omission). Scenarios: the
web channel at 500 requests/s and all four channels at 200 requests/s, each without and with
``--store sqlite`` (filled by ``atomcast batch --store`` over the same profiles, so every
request is a stored, sticky profile). Beside each: the in-process render time per request.

Run: ``python benchmarks/serve.py [--seconds 20] [--profiles 5000] [--render-in loop|thread]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from atomcast.project import load_project
from atomcast.render import Renderer
from atomcast.schema import validate_profile
from bench_profiles import synthetic_profiles

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-07-15T12:00:00Z"
CAMPAIGN = "summer-sale"
#: Keep-alive connections the client may open (a load balancer's pool to one replica).
MAX_CONNECTIONS = 64


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    channels: tuple[str, ...]
    rate: float
    target_p99_ms: float


SCENARIOS = (
    Scenario("web", ("web",), 500, 10),
    Scenario("all channels", (), 200, 25),
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def requests_for(
    profiles: list[dict[str, Any]], channels: tuple[str, ...], port: int
) -> list[bytes]:
    """Each profile's whole HTTP/1.1 request, built before the clock starts."""
    made = []
    for profile in profiles:
        data: dict[str, Any] = {"campaign": CAMPAIGN, "profile": profile, "at": AT}
        if channels:
            data["channels"] = list(channels)
        body = json.dumps(data).encode()
        head = (
            f"POST /v1/render HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        made.append(head + body)
    return made


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status


async def drive(port: int, requests: list[bytes], rate: float, seconds: float) -> dict[str, Any]:
    """Send ``rate`` requests a second for ``seconds``; latencies from each due time."""
    loop = asyncio.get_running_loop()
    idle: list[Connection] = []
    opened = 0
    latencies: list[float] = []
    failures = 0
    total = int(rate * seconds)
    pending: set[asyncio.Task[None]] = set()

    async def one(request: bytes, due: float) -> None:
        nonlocal opened, failures
        connection = idle.pop() if idle else None
        try:
            if connection is None:
                opened += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                connection = Connection(reader, writer)
            status = await connection.exchange(request)
            latencies.append(loop.time() - due)
            if status != 200:
                failures += 1
            idle.append(connection)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            failures += 1

    start = loop.time() + 0.2
    for index in range(total):
        due = start + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = loop.create_task(one(requests[index % len(requests)], due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=60)
    elapsed = loop.time() - start
    for connection in idle:
        connection.writer.close()
    latencies.sort()

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "sent": total,
        "ok": len(latencies) - failures,
        "failed": failures,
        "throughput": len(latencies) / elapsed,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000 if latencies else float("nan"),
        "connections": opened,
    }


def in_process_ms(profiles: list[dict[str, Any]], channels: tuple[str, ...]) -> tuple[float, float]:
    """(median, p99) of one render in this process: memos warmed on the first half of
    ``profiles``, then each profile of the second half rendered once (never seen before)."""
    project = load_project(ROOT)
    campaign = Renderer(project).campaign(CAMPAIGN, at=AT, channels=channels)
    checked = [validate_profile(project.schema, p) for p in profiles]
    half = len(checked) // 2
    for profile in checked[:half]:
        campaign.render(profile)
    times = []
    for profile in checked[half:]:
        started = time.perf_counter()
        campaign.render(profile)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(0.99 * len(times))] * 1000


def fill_store(url: str, profiles: list[dict[str, Any]], folder: Path) -> float:
    source = folder / "profiles.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in profiles), encoding="utf-8")
    started = time.perf_counter()
    subprocess.run(
        [
            *(sys.executable, "-m", "atomcast", "batch", str(ROOT), "-c", CAMPAIGN),
            *("-p", str(source), "-o", str(folder / "out"), "--at", AT, "--store", url),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


class Server:
    def __init__(self, port: int, log: Path, store: str | None, render_in: str | None) -> None:
        command = [
            *(sys.executable, "-m", "atomcast", "serve", str(ROOT)),
            *("--port", str(port), "--workers", "2"),
        ]
        if store:
            command += ["--store", store]
        if render_in:
            command += ["--render-in", render_in]
        self.command = command
        self.port = port
        self.log = log.open("wb")
        env = {k: v for k, v in os.environ.items() if k != "ATOMCAST_API_KEYS"}
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self.log, env=env
        )

    def wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    if sock.recv(100).startswith(b"HTTP/1.1 200"):
                        time.sleep(1.0)  # let the second worker finish starting
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("the server did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds a run")
    parser.add_argument("--warmup", type=float, default=4.0, help="unmeasured seconds first")
    parser.add_argument("--profiles", type=int, default=5000, help="distinct profiles sent")
    parser.add_argument("--render-in", choices=["loop", "thread"], default=None)
    parser.add_argument("--no-store", action="store_true", help="skip the --store runs")
    args = parser.parse_args()

    profiles = list(synthetic_profiles(args.profiles))
    print(
        f"atomcast serve, demo project, --workers 2, {args.profiles} distinct profiles, "
        f"{os.cpu_count()} CPUs; open-loop client over loopback, {args.seconds:g} s a run"
    )
    print(f"render in: {args.render_in or 'default'}")
    for scenario in SCENARIOS:
        median, p99 = in_process_ms(profiles[:4000], scenario.channels)
        print(f"in-process render, {scenario.name}: median {median:.3f} ms, p99 {p99:.3f} ms")
    with tempfile.TemporaryDirectory(prefix="atomcast-bench-serve-") as tmp:
        folder = Path(tmp)
        stores: list[str | None] = [None]
        if not args.no_store:
            url = f"sqlite:///{folder / 'decisions.db'}"
            took = fill_store(url, profiles, folder)
            print(f"store filled by batch --store in {took:.1f} s")
            stores.append(url)
        header = (
            f"{'scenario':<14}{'store':<8}{'rate':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
            f"{'p99 ms':>9}{'max ms':>9}{'failed':>8}  {'target':<12}{'load':>6}"
        )
        print(header)
        for store in stores:
            port = free_port()
            server = Server(port, folder / "serve.log", store, args.render_in)
            try:
                server.wait()
                for scenario in SCENARIOS:
                    requests = requests_for(profiles, scenario.channels, port)
                    asyncio.run(drive(port, requests, scenario.rate, args.warmup))
                    result = asyncio.run(drive(port, requests, scenario.rate, args.seconds))
                    load = os.getloadavg()[0]
                    met = "ok" if result["p99"] < scenario.target_p99_ms else "MISSED"
                    target = f"<{scenario.target_p99_ms:g} {met}"
                    print(
                        f"{scenario.name:<14}{'sqlite' if store else '-':<8}"
                        f"{scenario.rate:>6.0f}{result['throughput']:>9.1f}{result['p50']:>9.2f}"
                        f"{result['p95']:>9.2f}{result['p99']:>9.2f}{result['max']:>9.1f}"
                        f"{result['failed']:>8}  {target:<12}{load:>6.1f}",
                        flush=True,
                    )
            finally:
                server.stop()
    print("command: " + " ".join(["python", "benchmarks/serve.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
