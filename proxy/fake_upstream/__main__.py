"""`python -m proxy.fake_upstream --port 9100`: the fake provider, standalone."""

from __future__ import annotations

import argparse

from aiohttp import web

from proxy.fake_upstream import FakeUpstream


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI- and Anthropic-compatible LLM.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    fake = FakeUpstream(host=args.host, port=args.port, record_requests=False)
    web.run_app(fake.app(), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
