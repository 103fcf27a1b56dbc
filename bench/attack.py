"""The attacks of the security review, run against the installed command, with their outcome as JSON.

    python bench/attack.py --json results/reliability/attack.json [--flood_seconds 60] [--data PATH]

1. A shared TF-IDF run folder whose model.joblib runs code when unpickled: predict, evaluate and serve on it.
2. Host headers against `serve` (DNS rebinding): another site's name, the bound address, loopback names.
3. A flood of worst-case explain requests (bodies near the 1 MB limit, `explain: true`) from several clients, while
   one client times plain /predict requests: their p95 against the same client's on the idle server.
4. Two trainings started at once into one run folder.

Each server runs in its own process, started here on a free port (bench/serve_load.py), under the default limits.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from serve_load import free_port, rss_mb  # bench/serve_load.py, beside this script

from imdb_sentiment.core.hardware import hardware
from imdb_sentiment.core.runs import today

COMMAND = [sys.executable, "-m", "imdb_sentiment.apps.launcher"]
PLAIN = {"texts": ["A moving, beautifully acted film with a clever script."]}


class Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def started_server(flags: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen([*COMMAND, "serve", "--port", str(port), *flags], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if server.poll() is not None:
            return server, url
        try:
            httpx.get(f"{url}/models", timeout=1)
            return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit("the server did not come up within 5 minutes")


def malicious_pickle(work: Path, data: str) -> dict:
    real = work / "tfidf"
    subprocess.run([*COMMAND, "train", "tfidf", "--data", data, "--max_train_samples", "2000", "--max_eval_samples",
                    "200", "--C", "1", "--output_dir", str(real)], check=True, capture_output=True)
    shared = work / "shared-run"
    shared.mkdir()
    (shared / "run.json").write_text((real / "run.json").read_text())
    marker = work / "code-ran"
    (shared / "model.joblib").write_bytes(pickle.dumps(Exploit(marker)))
    outcome = {}
    for name, argv in (("predict", ["predict", "--run", str(shared), "fine film"]),
                       ("evaluate", ["evaluate", str(shared), "--data", data])):
        result = subprocess.run([*COMMAND, *argv], capture_output=True, text=True)
        outcome[name] = {"exit_status": result.returncode, "stderr": result.stderr.strip()[-300:],
                         "code_ran": marker.exists()}
    server, _ = started_server(["--run", str(shared)])
    server.wait(timeout=120)
    outcome["serve"] = {"exit_status": server.returncode, "stderr": server.stderr.read().strip()[-300:],
                        "code_ran": marker.exists()}
    return outcome


def host_headers(url: str) -> dict:
    port = url.rsplit(":", 1)[1]
    hosts = ["attacker.example", f"attacker.example:{port}", f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]
    return {host: httpx.post(f"{url}/predict", json=PLAIN, headers={"host": host}, timeout=30).status_code
            for host in hosts}


def timed_plain(url: str, n: int) -> list[float]:
    latencies = []
    with httpx.Client(timeout=120) as http:
        for _ in range(n):
            start = time.perf_counter()
            response = http.post(f"{url}/predict", json=PLAIN)
            response.raise_for_status()
            latencies.append(1000 * (time.perf_counter() - start))
    return latencies


FLOOD_WORDS = "the film was a quiet disaster though the lead actor tried hard and the music soared ".split()


def flood(url: str, clients: int, stop, outcome, addresses: list[str]) -> None:
    """`clients` threads posting explain requests with bodies just under the 1 MB limit until `stop` is set; run in
    a process of its own, so that its interpreter lock does not slow the timed client (an attacker's does not), and
    from other loopback addresses than the timed client's (an attacker is not the user being served); client k
    sends from addresses[k % len(addresses)]."""
    review = " ".join(FLOOD_WORDS[i % len(FLOOD_WORDS)] for i in range(150_000))[:990_000]
    body = json.dumps({"texts": [review], "explain": True}).encode()
    statuses: dict[int, int] = {}
    explain_seconds = []

    def client(address: str) -> None:
        with httpx.Client(timeout=120, headers={"content-type": "application/json"},
                          transport=httpx.HTTPTransport(local_address=address)) as http:
            while not stop.is_set():
                start = time.perf_counter()
                try:
                    status = http.post(f"{url}/predict", content=body).status_code
                except httpx.HTTPError:
                    status = 0
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    explain_seconds.append(time.perf_counter() - start)

    threads = [threading.Thread(target=client, args=(addresses[k % len(addresses)],)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.put({"statuses": statuses, "explain_seconds": explain_seconds, "body_bytes": len(body)})


def descendants(pid: int) -> list[int]:
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return children + [d for c in children for d in descendants(c)]


def tree_rss_mb(pid: int) -> float:
    """The server's memory with its explanation workers'."""
    return sum(rss_mb(p) for p in [pid, *descendants(pid)])


def explain_flood(url: str, pid: int, clients: int, seconds: float, plain_requests: int, addresses: int = 1) -> dict:
    """Plain requests' latency on the idle server, then under a flood of explain requests from `clients` clients
    spread over `addresses` loopback addresses (127.0.0.2, ...: one attacker, or several)."""
    sources = [f"127.0.0.{2 + k}" for k in range(addresses)]
    timed_plain(url, 20)  # warm-up
    idle = timed_plain(url, plain_requests)
    stop, outcome = multiprocessing.Event(), multiprocessing.Queue()
    flooder = multiprocessing.Process(target=flood, args=(url, clients, stop, outcome, sources))
    flooder.start()
    time.sleep(2)
    memory, under_flood, deadline = [], [], time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        under_flood += timed_plain(url, 10)
        memory.append(tree_rss_mb(pid))
    stop.set()
    flooded = outcome.get()
    flooder.join()
    explain_seconds = flooded["explain_seconds"]
    p95_idle, p95_flood = float(np.percentile(idle, 95)), float(np.percentile(under_flood, 95))
    return {"flood_clients": clients, "flood_from": sources, "flood_seconds": seconds, "explain_body_bytes": flooded["body_bytes"],
            "explain_statuses": {str(k): v for k, v in sorted(flooded["statuses"].items())},
            "explain_seconds_median": round(float(np.median(explain_seconds)), 2) if explain_seconds else None,
            "plain_requests_idle": len(idle), "plain_requests_under_flood": len(under_flood),
            "plain_p50_ms_idle": round(float(np.percentile(idle, 50)), 1),
            "plain_p50_ms_under_flood": round(float(np.percentile(under_flood, 50)), 1),
            "plain_p95_ms_idle": round(p95_idle, 1), "plain_p95_ms_under_flood": round(p95_flood, 1),
            "p95_ratio": round(p95_flood / p95_idle, 2), "target_ratio": 2.0,
            "server_rss_mb_max": round(max(memory), 1), "server_processes": len(descendants(pid)) + 1}


def two_writers(work: Path, data: str) -> dict:
    out = work / "contested"
    argv = [*COMMAND, "train", "tfidf", "--data", data, "--max_train_samples", "4000", "--max_eval_samples", "400",
            "--C", "1", "--output_dir", str(out)]
    first, second = (subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in (0, 1))
    results = [(p.wait(), p.stderr.read().strip()[-200:]) for p in (first, second)]
    info = json.loads((out / "run.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    return {"exit_statuses": sorted(status for status, _ in results),
            "refusal": next((err for status, err in results if status != 0), None),
            "run_complete": metrics["train_samples"] == 4000 and info["kind"] == "tfidf",
            "lock_left": (out / ".lock").exists()}


ATTACKS = ["malicious_pickle", "host_header", "explain_flood", "two_writers"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("IMDB_SENTIMENT_DATA"), help="aclImdb folder or tarball")
    parser.add_argument("--flood_clients", type=int, default=4)
    parser.add_argument("--flood_addresses", type=int, default=1, help="loopback addresses the flood comes from")
    parser.add_argument("--flood_seconds", type=float, default=60)
    parser.add_argument("--plain_requests", type=int, default=200, help="plain requests timed on the idle server")
    parser.add_argument("--serve_flags", default="", help='flags for the flooded server, e.g. "--explain_share 0.1"')
    parser.add_argument("--only", choices=ATTACKS, action="append", help="run only these attacks (default: all)")
    parser.add_argument("--json", help="write the outcome here")
    args = parser.parse_args()
    chosen = args.only or ATTACKS
    if not args.data:
        raise SystemExit("give --data or set IMDB_SENTIMENT_DATA")
    result = {"hardware": hardware(), "date": today(), "command": " ".join(["python", *sys.argv])}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "malicious_pickle" in chosen:
            result["malicious_pickle"] = malicious_pickle(work, args.data)
        if {"host_header", "explain_flood"} & set(chosen):
            server, url = started_server(args.serve_flags.split())
            try:
                if "host_header" in chosen:
                    result["host_header"] = host_headers(url)
                if "explain_flood" in chosen:
                    result["explain_flood"] = explain_flood(url, server.pid, args.flood_clients, args.flood_seconds,
                                                            args.plain_requests, args.flood_addresses)
                    result["explain_flood"]["serve_flags"] = args.serve_flags
            finally:
                server.terminate()
                server.wait()
        if "two_writers" in chosen:
            result["two_writers"] = two_writers(work, args.data)
        for attack in chosen:
            print(attack, json.dumps(result[attack]))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
