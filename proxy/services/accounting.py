"""After the response: price the request and settle its limits, exactly once.

Runs on the request path, before the response (non-streaming) or the stream's
last event reaches the client, so the next request already sees the spend.
Measured by `bench/limits_cost.py`.
"""

from __future__ import annotations

from proxy.call import Call
from proxy.runtime import Runtime
from proxy.services.costs import price_call
from proxy.services.limits import settle_limits


def account(call: Call, runtime: Runtime) -> None:
    if call.accounted:
        return
    call.accounted = True
    price_call(call)
    settle_limits(call, runtime)
