#!/usr/bin/env bash
# Builds pgvector from Debian trixie's *source* package against the local
# PostgreSQL (bookworm ships no pgvector). Idempotent: does nothing when the
# extension is already installed. See docs/deployment.md.
set -euo pipefail
PGVER=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
PGVER=${PGVER:-15}
if [ -f "/usr/share/postgresql/$PGVER/extension/vector.control" ]; then
  echo "pgvector already installed for PostgreSQL $PGVER"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "postgresql-server-dev-$PGVER" dpkg-dev >/dev/null
src=/etc/apt/sources.list.d/llmproxy-trixie-src.list
echo "deb-src http://deb.debian.org/debian trixie main" > "$src"
trap 'rm -f "$src"; apt-get update -qq || true' EXIT
apt-get update -qq
work=$(mktemp -d)
cd "$work"
apt-get source --download-only pgvector >/dev/null
dpkg-source -x --no-check pgvector_*.dsc pgvector >/dev/null
cd pgvector
make -s PG_CONFIG="/usr/lib/postgresql/$PGVER/bin/pg_config" >/dev/null
make -s install PG_CONFIG="/usr/lib/postgresql/$PGVER/bin/pg_config" >/dev/null
echo "pgvector built and installed for PostgreSQL $PGVER"
