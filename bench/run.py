"""The benchmark: added latency and throughput of the proxy versus the upstream alone.

    python bench/run.py [--duration 5] [--servers daphne,uvicorn] [--out bench/RESULTS.md]
                        [--no-translated]

What it does, all on 127.0.0.1 with a throwaway DATA_DIR (SQLite, WAL):
  1. starts the fake upstream (`python -m proxy.fake_upstream`) in its own process;
  2. migrates a fresh database, creates a provider pointing at the fake upstream
     (OPENAI_BASE_URL + `manage.py sync_providers`) and a key (`create_api_key`),
     and, for step 5, an Anthropic provider and a route (`apply_config`);
  3. starts each proxy server (daphne, as `make run` uses; uvicorn) as one process
     with LOG_BODIES=full (every request logged with its bodies);
  4. for each cell (streaming or not, concurrency 1, 16, 64) runs wrk against the
     upstream directly, then through each server, back to back, so that every
     ratio compares measurements taken moments apart on the same machine;
  5. unless --no-translated, measures an OpenAI client on a Claude route, streaming,
     against the same-format path, back to back (bench/translation.py);
  6. checks that every proxied request was stored in the request log, reads
     each server's peak RSS (VmHWM) and adds a dated section, naming the commit,
     to the top of bench/RESULTS.md (older sections are kept below it);
  7. prints the warnings, errors and tracebacks each proxy server logged (the
     throwaway DATA_DIR, with the logs, is kept when there are any). The fake
     upstream's log is not scanned: it logs a ClientConnectionResetError for each
     stream cut off when wrk closes its connections at the end of a run.

wrk comes from Debian (`apt-get install -y wrk`); the bench is not part of CI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CONCURRENCY = (1, 16, 64)
USER_TEXT = (
    "Summarise the following in one sentence: the quick brown fox jumps over the lazy dog "
    "while the cat watches from the window and the bird sings on the fence near the old "
    "oak tree at the end of the garden"
)  # 40 words: a streamed reply of ~40 chunks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error status: the server answers
                return
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class Cell:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Cell:
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if not (p50 and p99 and rps and total):
        raise RuntimeError("unexpected wrk output:\n" + output)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return Cell(
        float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), int(total.group(1)), errors
    )


def chat_body(model: str, stream: bool) -> dict[str, object]:
    """The OpenAI-format chat request every proxied measurement sends."""
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": USER_TEXT},
        ],
        "temperature": 0.2,
        "stream": stream,
    }


def lua_post(directory: Path, name: str, body: dict[str, object], headers: dict[str, str]) -> Path:
    """A wrk script that POSTs `body` as JSON with `headers`."""
    path = directory / f"post-{name}.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}"]
    headers = {"Content-Type": "application/json", **headers}
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(url: str, script: Path, concurrency: int, duration: float) -> tuple[Cell, str]:
    command = [
        "wrk",
        "-t1",
        f"-c{concurrency}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(output), " ".join(command)


class Servers:
    """The processes the bench starts; all stopped on exit."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.commands: dict[str, str] = {}

    def start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.procs[name] = proc
        self.commands[name] = shlex.join(command[2:] if command[0] == PYTHON else command)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def server_command(name: str, port: int) -> list[str]:
    if name == "daphne":
        return [
            PYTHON,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "llmproxy.asgi:application",
        ]
    if name == "uvicorn":
        return [
            PYTHON, "-m", "uvicorn", "llmproxy.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    raise SystemExit(f"unknown server {name!r} (daphne, uvicorn)")


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def stored_records(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("select count(*) from proxy_requestlog").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per server")
    parser.add_argument("--servers", default="daphne,uvicorn")
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    parser.add_argument(
        "--note", default="", help="a line added under the table (machine load, ...)"
    )
    parser.add_argument(
        "--translated",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure an OpenAI client on a Claude route, streaming (bench/translation.py)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    from bench import translation

    data_dir = Path(tempfile.mkdtemp(prefix="llmproxy-bench-"))
    upstream_port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "llmproxy.settings",
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "LOG_BODIES": "full",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
        "OPENAI_API_KEY": "sk-bench-upstream",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    started_at = datetime.now(UTC)
    load_at_start = load_average()
    processes = Servers(env, data_dir)
    rows: list[tuple[str, bool, int, Cell, Cell]] = []
    translated: list[translation.TranslationRow] = []
    claude_log: dict[str, int] = {}
    commands: dict[str, str] = {}
    peak: dict[str, float] = {}
    try:
        processes.start(
            "upstream", [PYTHON, "-m", "proxy.fake_upstream", "--port", str(upstream_port)]
        )
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "sync_providers")
        if args.translated:
            manage(env, "apply_config", str(translation.config_file(data_dir, upstream_port)))
        key = (
            manage(env, "create_api_key", "--namespace", "bench", "--name", "bench")
            .strip()
            .splitlines()[-1]
        )
        ports = {name: free_port() for name in servers}
        for name in servers:
            processes.start(name, server_command(name, ports[name]))
        wait_for(f"http://127.0.0.1:{upstream_port}/v1/models")
        for name in servers:
            wait_for(f"http://127.0.0.1:{ports[name]}/healthz")
        bearer = {"Authorization": f"Bearer {key}"}
        scripts = {
            s: lua_post(data_dir, "stream" if s else "json", chat_body("gpt-4o-mini", s), bearer)
            for s in (False, True)
        }
        direct_url = f"http://127.0.0.1:{upstream_port}/v1/chat/completions"
        for name in servers:  # warm up: first requests load the config snapshot, open connections
            run_wrk(
                f"http://127.0.0.1:{ports[name]}/v1/chat/completions",
                scripts[False],
                16,
                args.warmup,
            )
        before = stored_records(data_dir / "llmproxy.sqlite3")
        proxied = 0
        for stream in (False, True):
            for concurrency in CONCURRENCY:
                direct, commands["direct"] = run_wrk(
                    direct_url, scripts[stream], concurrency, args.duration
                )
                for name in servers:
                    url = f"http://127.0.0.1:{ports[name]}/v1/chat/completions"
                    through, commands[name] = run_wrk(
                        url, scripts[stream], concurrency, args.duration
                    )
                    proxied += through.requests
                    rows.append((name, stream, concurrency, direct, through))
                    print(
                        f"{name:8} stream={stream!s:5} c={concurrency:<3} direct {direct.rps:7.0f} req/s "
                        f"p50 {direct.p50_ms:6.2f} ms | proxy {through.rps:7.0f} req/s "
                        f"p50 {through.p50_ms:6.2f} p99 {through.p99_ms:6.2f} ms  errors {through.errors}",
                        flush=True,
                    )
        if args.translated:
            translated = translation.measure(
                directory=data_dir,
                key=key,
                upstream_port=upstream_port,
                ports=ports,
                duration=args.duration,
                commands=commands,
            )
            proxied += sum(r.same_format.requests + r.translated.requests for r in translated)
        for name in servers:
            peak[name] = peak_rss_mb(processes.procs[name].pid)
        time.sleep(2)  # the log writers flush every LOG_FLUSH_SECONDS
        stored = stored_records(data_dir / "llmproxy.sqlite3") - before
        if translated:
            claude_log = translation.claude_route_records(data_dir / "llmproxy.sqlite3")
            print(f"Claude route in the request log: {claude_log}")
    finally:
        processes.stop_all()
    finished_at = datetime.now(UTC)
    report = render(
        rows=rows,
        translated=translated,
        claude_log=claude_log,
        servers=servers,
        commands={**commands, **processes.commands},
        peak=peak,
        proxied=proxied,
        stored=stored,
        args=args,
        started_at=started_at,
        finished_at=finished_at,
        load=(load_at_start, load_average()),
    )
    from bench.report import prepend_section

    prepend_section(Path(args.out), report)
    print(f"\nadded a section to the top of {args.out}")
    if server_log_problems(data_dir, servers):
        print(f"server logs kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


def server_log_problems(log_dir: Path, names: list[str]) -> bool:
    """Print the warnings, errors and tracebacks each process logged; True if any."""
    found = False
    for name in names:
        path = log_dir / f"{name}.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        bad = [
            line
            for line in lines
            if "Traceback" in line or re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)
        ]
        print(f"{name} log: {len(lines)} lines, {len(bad)} warnings/errors/tracebacks")
        for line in bad[:5]:
            print(f"    {line}")
        found = found or bool(bad)
    return found


def render(**kw: object) -> str:
    from bench.report import render_report

    return render_report(**kw)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
