#!/usr/bin/env bash
# CI services for the web app tests: a local PostgreSQL server and Chromium.
#
#   .ci/services.sh            # as root on Debian; idempotent
#
# Installs Debian's `postgresql` and `chromium` packages, starts the default
# cluster on 127.0.0.1:5432, and creates the role `analyzer` (password
# `analyzer`) owning the database `analyzer_test`. `make test` runs it and
# then sets, as the last line printed says,
#
#   TEST_POSTGRES_URL=postgresql+psycopg://analyzer:analyzer@127.0.0.1:5432/analyzer_test
#
# and tests/web runs every database test against that server as well as SQLite
# (they skip the PostgreSQL variants only when TEST_POSTGRES_URL is unset).
set -euo pipefail

PG_USER=analyzer
PG_PASSWORD=analyzer
PG_DATABASE=analyzer_test
PG_PORT=5432

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
    as_root pg_createcluster "$version" main -p "$PG_PORT" >/dev/null
fi
if ! pg_lsclusters -h | awk '$1=="'"$version"'" && $2=="main" {print $4}' | grep -qx online; then
    as_root pg_ctlcluster "$version" main start
fi

psql_admin() { as_root runuser -u postgres -- psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }
for _ in $(seq 1 30); do psql_admin -c "select 1" >/dev/null 2>&1 && break; sleep 1; done

if [ "$(psql_admin -c "select 1 from pg_roles where rolname='$PG_USER'")" != "1" ]; then
    psql_admin -c "create role $PG_USER login password '$PG_PASSWORD'"
fi
if [ "$(psql_admin -c "select 1 from pg_database where datname='$PG_DATABASE'")" != "1" ]; then
    psql_admin -c "create database $PG_DATABASE owner $PG_USER"
fi

echo "PostgreSQL $version on 127.0.0.1:$PG_PORT; chromium at /usr/bin/chromium"
echo "TEST_POSTGRES_URL=postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DATABASE"
