#!/usr/bin/env bash
# Start the local Postgres and Redis this checkout's demo and tests use, if they are installed
# but down. For development machines only; production runs them as managed services (README,
# "Operations"). Where neither answers nor is installed, `eventrouter dev` (and so `make demo`)
# starts private ones from the pip packages of eventrouter[dev-services]; this script then
# only says so and succeeds.
set -uo pipefail

pg_up() { command -v pg_isready >/dev/null && pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null \
  || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

if ! pg_up; then
  cluster="$(ls /etc/postgresql 2>/dev/null | head -n1)"
  if command -v pg_ctlcluster >/dev/null && [ -n "$cluster" ]; then
    echo "starting Postgres $cluster…"
    pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
    wait_for pg_up || { echo "Postgres at 127.0.0.1:5432 did not start" >&2; exit 1; }
  else
    echo "no Postgres answers at 127.0.0.1:5432 and none is installed as a service:" \
      "'eventrouter dev' (make demo, make dev) starts a private one; for make test, run" \
      "'.venv/bin/eventrouter dev --services-only' in another terminal first"
  fi
fi

if ! redis_up; then
  if command -v redis-server >/dev/null; then
    echo "starting Redis…"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    wait_for redis_up || { echo "Redis at 127.0.0.1:6379 did not start" >&2; exit 1; }
  else
    echo "no Redis answers at 127.0.0.1:6379 and none is installed:" \
      "'eventrouter dev' starts a private one (see above for make test)"
  fi
fi
exit 0
