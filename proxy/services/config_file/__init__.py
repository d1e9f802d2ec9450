"""Declarative configuration: a YAML file applied idempotently, and exported back.

`loading` reads and validates the file (errors with line and field), `apply`
upserts it in one transaction, `export` writes the current state in the same
format. The management commands `apply_config` and `export_config` call these.
"""
