"""The soak's fake provider: `python -m bench.soak_upstream --port N`.

The fake upstream (proxy.fake_upstream) with an LLM's pace (a short wait before each
answer, a gap between stream chunks) and two models that always fail: `flaky-500`
(a server error, which the proxy's breaker sees) and `bad-request-400` (a client error,
passed back as it is).
"""

from __future__ import annotations

import argparse

from aiohttp import web

from proxy.fake_upstream import Behaviour, FakeUpstream


def soak_upstream(port: int, delay: float, chunk_delay: float) -> FakeUpstream:
    fake = FakeUpstream(port=port, record_requests=False)
    fake.default = Behaviour(delay=delay, chunk_delay=chunk_delay)
    fake.by_model["flaky-500"] = Behaviour(status=500, delay=delay)
    fake.by_model["bad-request-400"] = Behaviour(status=400, delay=delay)
    return fake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before each answer")
    parser.add_argument("--chunk-delay", type=float, default=0.003, help="seconds between chunks")
    args = parser.parse_args()
    fake = soak_upstream(args.port, args.delay, args.chunk_delay)
    web.run_app(fake.app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
