#!/usr/bin/env bash
# Stops the daemons start-test-cluster.sh started in DIR (by their pid files; munged is left
# running because other clusters on the machine may share it).
set -uo pipefail
dir=${1:?usage: stop-test-cluster.sh DIR}
for name in slurmd slurmctld; do
  pidfile="$dir/run/$name.pid"
  if [ -s "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
done
exit 0
