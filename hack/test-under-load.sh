#!/usr/bin/env bash
# Runs the README's test command while every core is kept busy by other processes, and prints how
# long it took: the check that waits scale with deadlines instead of failing on a loaded machine.
#
#   hack/test-under-load.sh                 # the whole suite, one busy loop per core
#   LOAD_PROCS=4 hack/test-under-load.sh    # more (or fewer) busy loops
#   hack/test-under-load.sh tests/e2e       # other pytest arguments instead of `tests`
#
# The load is one `sh` busy loop per online core (`nproc`), at normal priority, started before the
# tests and killed when they end (also on Ctrl-C). The exit code is pytest's.
set -euo pipefail
cd "$(dirname "$0")/.."

procs=${LOAD_PROCS:-$(nproc)}
[ $# -gt 0 ] || set -- tests
load_pids=()
stop_load() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${load_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_load EXIT
for _ in $(seq "$procs"); do
  sh -c 'while :; do :; done' &
  load_pids+=("$!")
done
echo "load: $procs busy-loop processes (pids ${load_pids[*]}) on $(nproc) cores" >&2

start=$(date +%s)
status=0
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?
end=$(date +%s)
echo "test-under-load: pytest exited $status after $((end - start)) s with $procs busy loops" >&2
exit "$status"
