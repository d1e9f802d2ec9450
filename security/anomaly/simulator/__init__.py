"""Traffic simulator: normal keys with daily rhythms, and attack scenarios.

`traffic` generates requests (pure, seeded, in simulated time); `scenarios`
adds attacks; `evaluation` feeds a `Detector` in-process, faster than the
clock; `http` replays the same requests through a real proxy with the SDK.
"""
