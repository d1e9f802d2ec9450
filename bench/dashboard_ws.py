"""WebSocket load: N dashboard clients on one daphne process while the proxy serves traffic.

    python bench/dashboard_ws.py --clients 1000 --requests 300

Four kinds of process, so that no side's work is billed to another:
  - the fake upstream (`python -m proxy.fake_upstream`);
  - the server: ONE daphne process (the app as `make run` serves it, SQLite in a fresh
    DATA_DIR);
  - the latency probe (`bench/dashboard_ws.py probe`): sequential requests on keep-alive
    connections, alternating direct-to-upstream and through the proxy; proxy added
    latency = median proxied - median direct;
  - the WebSocket clients (`bench/ws_clients.py`): every client reads every frame, a
    sample parses them and times each event: request end (`created_at` + `latency_ms`,
    stamped by the server) → frame received.
The probe runs once without clients, then again with N clients connected.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BODY = json.dumps(
    {"model": "fake-model", "messages": [{"role": "user", "content": "hello bench"}]}
).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status < 500:
                    return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.1)


def prepare(env: dict[str, str], upstream_url: str) -> tuple[str, str]:
    """Migrate, create a staff session, a key and a provider; returns (session, key)."""
    script = f"""
import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from django.test import Client
from proxy.models import Provider
from proxy.services.keys import api_key_create, namespace_get_or_create
user = User.objects.create_user("bench", password="x", is_staff=True)
client = Client(); client.force_login(user)
provider = Provider(name="fake", kind="openai", base_url="{upstream_url}", is_default=True,
                    allow_private_network=True)
provider.set_api_key("sk-bench-0000000000"); provider.save()
issued = api_key_create(namespace=namespace_get_or_create(name="bench"), name="bench")
print(client.cookies["sessionid"].value, issued.secret)
"""
    out = subprocess.run(
        [PYTHON, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    session, key = out.stdout.split()[-2:]
    return session, key


# --- the probe (its own process) ------------------------------------------------------------
def timed_post(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    conn.request("POST", path, body=BODY, headers=headers)
    answer = conn.getresponse()
    answer.read()
    elapsed = time.perf_counter() - started
    if answer.status != 200:
        raise RuntimeError(f"{path} answered {answer.status}")
    return elapsed


def probe(args: argparse.Namespace) -> None:
    direct = http.client.HTTPConnection("127.0.0.1", args.upstream_port)
    proxied = http.client.HTTPConnection("127.0.0.1", args.proxy_port)
    json_headers = {"content-type": "application/json"}
    key_headers = {**json_headers, "authorization": f"Bearer {args.key}"}
    direct_s, proxied_s = [], []
    for _ in range(args.requests):
        direct_s.append(timed_post(direct, "/v1/chat/completions", json_headers))
        proxied_s.append(timed_post(proxied, "/v1/chat/completions", key_headers))
        if args.pause:
            time.sleep(args.pause)
    print(json.dumps({"direct": direct_s, "proxied": proxied_s}))


# --- the orchestrator -----------------------------------------------------------------------
def run_probe(upstream_port: int, proxy_port: int, key: str, args: argparse.Namespace) -> dict:
    out = subprocess.run(
        [PYTHON, __file__, "probe", "--upstream-port", str(upstream_port),
         "--proxy-port", str(proxy_port), "--key", key, "--requests", str(args.requests),
         "--pause", str(args.pause)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError("the probe failed:\n" + out.stderr)
    timings = json.loads(out.stdout)
    direct = statistics.median(timings["direct"]) * 1000
    proxied = statistics.median(timings["proxied"]) * 1000
    return {"direct": direct, "proxied": proxied, "added": proxied - direct}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = tempfile.mkdtemp(prefix="llmproxy-wsbench-")
    env = {**os.environ, "DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "llmproxy.settings"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    upstream_port, proxy_port = free_port(), free_port()
    children: list[subprocess.Popen[str]] = []
    try:
        children.append(subprocess.Popen(
            [PYTHON, "-m", "proxy.fake_upstream", "--port", str(upstream_port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        ))  # fmt: skip
        upstream = f"http://127.0.0.1:{upstream_port}/v1"
        session, key = prepare(env, upstream)
        profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        children.append(subprocess.Popen(
            [PYTHON, *profile, "-m", "daphne", "-b", "127.0.0.1", "-p", str(proxy_port),
             "llmproxy.asgi:application"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        ))  # fmt: skip
        url = f"http://127.0.0.1:{proxy_port}"
        wait_until_up(url + "/healthz")
        server_pid = children[-1].pid
        print(f"server pid {server_pid}", flush=True)
        run_probe(upstream_port, proxy_port, key, argparse.Namespace(requests=50, pause=0))
        base = run_probe(upstream_port, proxy_port, key, args)
        print(f"no clients:  direct {base['direct']:.2f} ms, proxied {base['proxied']:.2f} ms, "
              f"added {base['added']:.2f} ms", flush=True)  # fmt: skip
        clients = subprocess.Popen(
            [PYTHON, str(ROOT / "bench" / "ws_clients.py"), "--url", url, "--session", session,
             "--clients", str(args.clients), "--sample", str(args.sample)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        children.append(clients)
        assert clients.stdout is not None and clients.stdin is not None
        ready = clients.stdout.readline().split()
        connected = int(ready[1])
        print(f"{connected} WebSocket clients connected", flush=True)
        if args.hold:
            time.sleep(args.hold)
        cpu_before = cpu_seconds(server_pid), cpu_seconds(clients.pid)
        started = time.monotonic()
        loaded = run_probe(upstream_port, proxy_port, key, args)
        clients.stdin.write("stop\n")
        clients.stdin.flush()
        tally = json.loads(clients.stdout.readline())
        wall = time.monotonic() - started
        cpu = {
            "wall_s": wall,
            "server_cpu_s": cpu_seconds(server_pid) - cpu_before[0],
            "clients_cpu_s": cpu_seconds(clients.pid) - cpu_before[1],
        }
        clients.wait(30)
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT if args.profile else signal.SIGTERM)
                try:
                    child.wait(20)
                except subprocess.TimeoutExpired:
                    child.kill()
    delays = sorted(d * 1000 for d in tally["delays"])
    change = (loaded["added"] / base["added"] - 1) * 100
    print(f"{args.clients} clients: direct {loaded['direct']:.2f} ms, proxied "
          f"{loaded['proxied']:.2f} ms, added {loaded['added']:.2f} ms ({change:+.0f}% vs none)")  # fmt: skip
    result = {
        "clients": args.clients,
        "connected": connected,
        "base": base,
        "loaded": loaded,
        "change_pct": change,
        "events_per_sampled_client": tally["sampled_events"],
        "frames_per_client": [tally["frames_min"], tally["frames_max"]],
        "dropped": tally["sampled_dropped"],
        "closed_early": tally["closed_early"],
        "receipts": len(delays),
        **cpu,
    }
    if delays:
        result.update(
            p50=percentile(delays, 0.5), p95=percentile(delays, 0.95),
            p99=percentile(delays, 0.99), max=delays[-1],
        )  # fmt: skip
        print(f"event delay over {len(delays)} receipts ({args.sample} sampled clients, "
              f"{min(tally['sampled_events'])}-{max(tally['sampled_events'])} events each, "
              f"{args.requests} requests): p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, "
              f"p99 {result['p99']:.1f} ms, max {result['max']:.1f} ms", flush=True)  # fmt: skip
    print(f"loaded phase {cpu['wall_s']:.1f} s: server used {cpu['server_cpu_s']:.1f} CPU s, "
          f"WebSocket clients {cpu['clients_cpu_s']:.1f} CPU s", flush=True)  # fmt: skip
    print(f"frames per client {tally['frames_min']}-{tally['frames_max']}, dropped "
          f"{tally['sampled_dropped']}, closed early {tally['closed_early']}", flush=True)  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    probe_parser = sub.add_parser("probe", help="(internal) the latency probe")
    probe_parser.add_argument("--upstream-port", type=int, required=True)
    probe_parser.add_argument("--proxy-port", type=int, required=True)
    probe_parser.add_argument("--key", required=True)
    probe_parser.add_argument("--requests", type=int, default=300)
    probe_parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between request pairs")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds idle after connecting")
    parser.add_argument("--profile", help="run the server under cProfile, writing this file")
    parser.add_argument("--json", help="append the result as one JSON line to this file")
    args = parser.parse_args()
    if args.command == "probe":
        probe(args)
        return
    result = measure(args)
    if args.json:
        with open(args.json, "a") as out:
            out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
