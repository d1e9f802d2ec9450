"""The soak: steady mixed load for a warm-up plus 10 minutes, with every server process's
memory sampled (issue 9: RSS growth ≤ 10% after warm-up).

    python bench/soak.py [--rate 40] [--warmup 120] [--duration 600] [--interval 5]
                         [--postgres] [--malloc-arena-max N] [--out-dir bench/out/soak-...]

What it does, all on 127.0.0.1:
  1. starts the soak's fake upstream (`python -m bench.soak_upstream`: the fake provider
     with a 50 ms wait before each answer, 3 ms between stream chunks, and two models
     that always fail) in its own process;
  2. on a throwaway DATA_DIR with a fresh SQLite database (or, with --postgres, the
     PostgreSQL database `llmproxy_soak`, dropped and re-created, and Redis DB 13,
     flushed) migrates, creates an Anthropic provider `claude` and a route
     `claude-route` to it (`apply_config`), three namespaces with two keys each, and a
     global security policy (injection → block, secrets → block, PII → reversible
     redaction; input and output);
  3. starts the proxy as `make run` does: `manage.py serve` (daphne and the django-q2
     cluster), LOG_BODIES=full;
  4. sends `--rate` requests a second, open loop, for warm-up + duration seconds
     (bench/soak_traffic.py: the mix is listed there) while it reads VmRSS of every
     process under `serve` every `--interval` seconds (bench/soak_memory.py);
  5. waits for the log writers, counts the request log and checks it against the
     requests answered, stops the proxy, and writes samples.csv (every sample) and
     report.md (the section for bench/RESULTS.md) to --out-dir.

Not a test: figures are reported, never asserted. Run it under the shared lock:
`flock /work/briefs/heavy.lock python bench/soak.py` (or `make soak`).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import git_commit  # noqa: E402
from bench.run import free_port, load_average, manage, wait_for  # noqa: E402
from bench.soak_memory import Sample, descendants, sample_tree, totals_by_role  # noqa: E402
from bench.soak_report import render_soak  # noqa: E402
from bench.soak_traffic import CLAUDE_ROUTE, Tally, drive  # noqa: E402

PYTHON = sys.executable
NAMESPACES = ("shop", "support", "code")
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "llmproxy_soak"
REDIS_URL = "redis://127.0.0.1:6379/13"

SETUP = """
import json
from proxy.services.keys import api_key_create, namespace_get_or_create
from security.models import Policy, PolicyRule
keys = []
for name in NAMESPACES:
    namespace = namespace_get_or_create(name=name)
    keys += [api_key_create(namespace=namespace, name=f"soak-{n}").secret for n in (1, 2)]
policy = Policy.objects.create(name="soak", direction="both", reversible=True)
PolicyRule.objects.create(policy=policy, order=0, detector="injection", action="block")
PolicyRule.objects.create(policy=policy, order=1, detector="secrets", action="block")
PolicyRule.objects.create(policy=policy, order=2, detector="pii", action="redact")
print(json.dumps(keys))
"""

COUNT = "from proxy.models import RequestLog; print(RequestLog.objects.count())"


def config_file(directory: Path, upstream_port: int) -> Path:
    """The Anthropic provider and the Claude route (`apply_config`; YAML ⊇ JSON)."""
    config = {
        "providers": [
            {
                "name": "claude",
                "kind": "anthropic",
                "base_url": f"http://127.0.0.1:{upstream_port}",
                "api_key": "env:OPENAI_API_KEY",  # the fake upstream checks no key
                "allow_private_network": True,  # it listens on loopback (SSRF guard)
            }
        ],
        "routes": [
            {
                "alias": CLAUDE_ROUTE,
                "strategy": "single",
                "targets": [{"provider": "claude", "model": "claude-sonnet-4-5"}],
            }
        ],
    }
    path = directory / "soak-config.yaml"
    path.write_text(json.dumps(config, indent=2))
    return path


def fresh_postgres_and_redis() -> None:
    import psycopg
    import redis

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as db:
        db.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        db.execute(f"CREATE DATABASE {PG_DATABASE}")
    redis.Redis.from_url(REDIS_URL).flushdb()


class Sampler(threading.Thread):
    """Reads the RSS of every process under `root` every `interval` seconds."""

    def __init__(self, root: int, interval: float, started: float) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.started = root, interval, started
        self.samples: list[Sample] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples += sample_tree(self.root, round(time.monotonic() - self.started, 1))
            self.stop.wait(self.interval)


def stop_orphans(pids: list[int]) -> list[int]:
    """Stop the server processes still running after `serve` exited (when it has to SIGKILL
    a q cluster that did not stop in time, the cluster's own processes are left behind)."""
    alive = [
        pid
        for pid in pids
        if Path(f"/proc/{pid}").exists()
        and "manage.py" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    ]
    for pid in alive:
        os.kill(pid, signal.SIGTERM)
    time.sleep(5)
    for pid in alive:
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
    return alive


def write_csv(path: Path, samples: list[Sample]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["seconds", "pid", "role", "rss_kb", "anon_kb", "file_kb", "threads"])
        writer.writerows(
            (s.seconds, s.pid, s.role, s.rss_kb, s.anon_kb, s.file_kb, s.threads) for s in samples
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second")
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds after the warm-up")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL + Redis DB 13")
    parser.add_argument("--malloc-arena-max", default="", help="MALLOC_ARENA_MAX for the proxy")
    parser.add_argument("--out-dir", default="")
    parser.add_argument("--keep-data", action="store_true", help="keep the throwaway DATA_DIR")
    args = parser.parse_args()
    commit = git_commit()  # the code that is about to be measured
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out_dir = Path(args.out_dir or ROOT / "bench" / "out" / f"soak-{stamp}")
    out_dir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="llmproxy-soak-"))
    upstream_port, proxy_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "llmproxy.settings",
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "LOG_BODIES": "full",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "false",
        "OPENAI_API_KEY": "sk-soak-upstream",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if args.postgres:
        env |= {"DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE}
        env |= {"REDIS_URL": REDIS_URL}
        fresh_postgres_and_redis()
    server_env = env | (
        {"MALLOC_ARENA_MAX": args.malloc_arena_max} if args.malloc_arena_max else {}
    )
    logs = {name: (out_dir / f"{name}.log").open("wb") for name in ("upstream", "serve")}
    upstream = subprocess.Popen(
        [PYTHON, "-m", "bench.soak_upstream", "--port", str(upstream_port)],
        cwd=ROOT, env=env, stdout=logs["upstream"], stderr=logs["upstream"],
    )  # fmt: skip
    serve: subprocess.Popen[bytes] | None = None
    sampler: Sampler | None = None
    commands = {
        "upstream": f"python -m bench.soak_upstream --port {upstream_port}",
        "proxy": f"python manage.py serve --port {proxy_port}  (daphne + qcluster)",
    }
    try:
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "sync_providers")
        manage(env, "apply_config", str(config_file(data_dir, upstream_port)))
        keys = json.loads(
            manage(env, "shell", "-c", SETUP.replace("NAMESPACES", repr(NAMESPACES)))
            .strip()
            .splitlines()[-1]
        )
        serve = subprocess.Popen(
            [PYTHON, "manage.py", "serve", "--port", str(proxy_port)],
            cwd=ROOT, env=server_env, stdout=logs["serve"], stderr=logs["serve"],
        )  # fmt: skip
        wait_for(f"http://127.0.0.1:{upstream_port}/v1/models")
        wait_for(f"http://127.0.0.1:{proxy_port}/healthz", timeout=120)
        time.sleep(3)  # the q cluster's workers start after daphne answers
        load = {"start": load_average()}
        started_at = datetime.now(UTC)
        started = time.monotonic()
        sampler = Sampler(serve.pid, args.interval, started)
        sampler.start()

        def tick(elapsed: float, tally: Tally) -> None:
            if elapsed >= args.warmup and "warmup" not in load:
                load["warmup"] = load_average()
            if int(elapsed) % 30 == 0:
                latest = sampler.samples[-1].seconds if sampler.samples else 0
                now = [s for s in sampler.samples[-16:] if s.seconds == latest]
                rss = {role: kb // 1024 for role, kb in totals_by_role(now).get(latest, {}).items()}
                print(
                    f"{elapsed:5.0f} s  sent {tally.sent}  answered {tally.answered}  "
                    f"in flight {tally.in_flight}  RSS MB {rss}  load {load_average()}",
                    flush=True,
                )

        tally = asyncio.run(
            drive(
                base_url=f"http://127.0.0.1:{proxy_port}",
                keys=keys,
                rate=args.rate,
                duration=args.warmup + args.duration,
                tick=tick,
            )
        )
        load["end"] = load_average()
        sampler.stop.set()
        sampler.join()
        time.sleep(3)  # the log writers flush every LOG_FLUSH_SECONDS
        stored_running = int(manage(env, "shell", "-c", COUNT).strip().splitlines()[-1])
        tree = descendants(serve.pid)
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
        orphans = stop_orphans(tree)
        stored = int(manage(env, "shell", "-c", COUNT).strip().splitlines()[-1])
        finished_at = datetime.now(UTC)
    finally:
        for proc in (serve, upstream):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    write_csv(out_dir / "samples.csv", sampler.samples)
    report = render_soak(
        samples=sampler.samples,
        tally=tally,
        stored=stored,
        stored_running=stored_running,
        args=args,
        commit=commit,
        load=load,
        started_at=started_at,
        finished_at=finished_at,
        commands=commands,
        out_dir=out_dir,
        orphans=orphans,
    )
    (out_dir / "report.md").write_text(report)
    statuses = [[kind, status, n] for (kind, status), n in sorted(tally.statuses.items())]
    (out_dir / "statuses.json").write_text(json.dumps(statuses, indent=1))
    print(report)
    print(f"samples and report in {out_dir}")
    if args.keep_data:
        print(f"DATA_DIR kept: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
