"""Load test of `imdb-sentiment serve`: requests/s, latency percentiles, errors and the server's memory at
several numbers of concurrent clients, each client posting one test review at a time.

    python bench/serve_load.py --run builtin --clients 1,4,16,64 --seconds 20 --json results/serve/bilstm.json
    python bench/serve_load.py --run builtin --clients 16 --seconds 600 --json results/serve/soak.json   # memory

The server runs in its own process (started here, on a free port), so its memory is read from /proc. Every request
has a 60 s timeout; one that fails or times out counts as an error, and the run goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from imdb_sentiment.core.data import load_imdb
from imdb_sentiment.core.hardware import hardware
from imdb_sentiment.core.runs import today


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(url: str, texts: list[str], clients: int, seconds: float, pid: int) -> dict:
    latencies, errors, memory = [], 0, []
    deadline = time.perf_counter() + seconds

    async def client(k: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        i = k
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                response = await http.post(f"{url}/predict", json={"texts": [texts[i % len(texts)]]})
                ok = response.status_code == 200 and response.json()["results"][0]["models"][0]["error"] is None
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append(1000 * (time.perf_counter() - start))
            else:
                errors += 1
            i += clients

    async def sample_memory() -> None:
        while time.perf_counter() < deadline:
            memory.append(rss_mb(pid))
            await asyncio.sleep(min(5.0, seconds / 10))

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        start = time.perf_counter()
        await asyncio.gather(sample_memory(), *(client(k, http) for k in range(clients)))
        elapsed = time.perf_counter() - start
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if latencies else (float("nan"),) * 3
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies), "errors": errors,
            "requests_per_s": round(len(latencies) / elapsed, 1), "latency_ms_p50": round(float(p50), 1),
            "latency_ms_p95": round(float(p95), 1), "latency_ms_p99": round(float(p99), 1),
            "rss_mb_first": round(memory[0], 1), "rss_mb_last": round(rss_mb(pid), 1),
            "rss_mb_max": round(max(memory), 1), "rss_mb_every_sample": [round(m, 1) for m in memory]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="builtin", help="run directory served (default: the built-in model)")
    parser.add_argument("--clients", default="1,4,16,64", help="concurrent clients, comma-separated")
    parser.add_argument("--seconds", type=float, default=20, help="duration of each level")
    parser.add_argument("--reviews", type=int, default=500, help="test reviews cycled through")
    parser.add_argument("--serve_flags", default="", help="more flags for `serve`, e.g. '--serve_batch 1'")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    texts = load_imdb(allow_partial=True)["test"].texts[: args.reviews]
    port = free_port()
    # as the installed `imdb-sentiment` command starts it: under tcmalloc where installed (imdb_sentiment.apps.launcher)
    command = [sys.executable, "-m", "imdb_sentiment.apps.launcher", "serve", "--run", args.run, "--port", str(port),
               *args.serve_flags.split()]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise SystemExit(f"the server exited with status {server.returncode}: {' '.join(command)}")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise SystemExit("the server did not come up within 5 minutes")
        allocator = "tcmalloc" if "tcmalloc" in Path(f"/proc/{server.pid}/maps").read_text() else "glibc"
        asyncio.run(load(url, texts, 1, 2, server.pid))  # warm-up
        levels = []
        for clients in map(int, args.clients.split(",")):
            level = asyncio.run(load(url, texts, clients, args.seconds, server.pid))
            levels.append(level)
            print(json.dumps(level))
    finally:
        server.terminate()
        server.wait()
    result = {"run": args.run, "serve_flags": args.serve_flags, "allocator": allocator, "levels": levels,
              "hardware": hardware(),
              "date": today(), "command": " ".join(["python", *sys.argv])}
    if levels[0]["clients"] == 1:
        for level in levels:
            level["speedup_over_one_client"] = round(level["requests_per_s"] / levels[0]["requests_per_s"], 2)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"one client {levels[0]['requests_per_s']} requests/s; " + "; ".join(
        f"{lv['clients']} clients {lv['requests_per_s']}/s ({lv.get('speedup_over_one_client', '-')}x), "
        f"p95 {lv['latency_ms_p95']} ms, {lv['errors']} errors" for lv in levels[1:]))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
