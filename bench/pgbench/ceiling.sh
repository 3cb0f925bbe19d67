#!/usr/bin/env bash
# The ceiling of PostgreSQL write transactions on this machine, without the
# server: pgbench sends transactions of the shapes of the server's writes
# (the requests of the benchmark's enable-then-disable pair) straight to
# PostgreSQL, on tables of the same shape, and prints the writes per second
# of each shape: one statement alone; one enable alone in its transaction;
# a batch of 16 enables in one transaction, as the server's pipeline sends
# the writes that wait at the same time, from two clients (its two lanes).
# A pair is two writes.
#
#   bench/pgbench/ceiling.sh [postgres://postgres@127.0.0.1:5432/test?sslmode=disable]
#
# It works in a database of its own, created next to the one of the URL and
# dropped at the end. Needs pgbench and psql (Debian: postgresql-client).
set -euo pipefail
url="${1:-${INTEGRATIONS_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}}"
dir="$(cd "$(dirname "$0")" && pwd)"
db="integrations_ceiling_$$"
scratch="${url%%\?*}"
scratch="${scratch%/*}/$db"
query=""
[[ "$url" == *\?* ]] && query="?${url#*\?}"
psql "$url" -qc "CREATE DATABASE $db"
trap 'psql "$url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
psql "$scratch$query" -q -f "$dir/schema.sql"
clients="${CLIENTS:-10}" # the server's connections (--db-max-conns)
seconds="${SECONDS_EACH:-10}"
for shape in one-statement enable batch; do
	c=$clients writes=1
	if [ "$shape" = batch ]; then
		c=2 writes=16
	fi
	tps=$(pgbench -n -M prepared -c "$c" -j 2 -T "$seconds" -f "$dir/$shape.sql" "$scratch$query" 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	printf '%-14s %8.0f writes/s (%d clients, %ds)\n' "$shape" "$(awk -v t="$tps" -v w="$writes" 'BEGIN { print t * w }')" "$c" "$seconds"
done
