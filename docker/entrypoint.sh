#!/bin/sh
# Container entrypoint: runs the service ("$@", by default `node dist/server.js`) and passes its
# exit status on, except for a configuration error (EX_CONFIG, 78). Under `restart: unless-stopped`
# that would restart forever, the message lost in a loop; instead the container says it once and
# stays stopped-but-alive (unhealthy: no /health) until the configuration is fixed and
# `docker compose up -d` recreates it. SIGTERM/SIGINT are forwarded so that the graceful shutdown
# still runs (this script is PID 1, node its child).
set -u
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM
trap 'kill -INT "$child" 2>/dev/null' INT
while :; do
  wait "$child"
  code=$?
  # `wait` also returns when a trapped signal arrives: wait again until the child is really gone.
  kill -0 "$child" 2>/dev/null || break
done
if [ "$code" -eq 78 ]; then
  echo "chatwoot-glpi-bridge: configuration error (above). Not restarting: fix .env (start from .env.example) or HOOKS_FILE, then run: docker compose up -d" >&2
  trap 'exit 78' TERM INT
  while :; do
    sleep 3600 &
    wait $!
  done
fi
exit "$code"
