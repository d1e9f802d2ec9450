"""Transformation rules: conditions → operations over a request body.

Pure Python, no Django: `conditions.py` and `operations.py` compile the JSON an
admin (or Claude) wrote into small immutable objects once, when the configuration
snapshot is built; `dialects.py` hides where each API format keeps the system
prompt, the stop sequences and the token limit; `engine.py` applies a rule set to
one request.
"""
