#!/bin/sh
# run.sh start|stop|status NAME -- runs inside the serving container (written by the
# npu.cluster vllm_serve role; do not edit).  NAME.sh is the launch script next to this file;
# its pid, exit code and log go to the log directory, which the node shares.
#   start   start NAME.sh in its own session (no-op when it already runs)
#   stop    SIGTERM its process group, SIGKILL after STOP_TIMEOUT seconds (default 30)
#   status  prints "running", "exited <code>" or "absent"
set -u
action=${1:?usage: run.sh start|stop|status NAME}
name=${2:?usage: run.sh start|stop|status NAME}
dir=$(dirname "$0")
logs=${NPU_CLUSTER_LOG_DIR:-/var/log/npu-cluster}
pidf="$logs/$name.pid"
rcf="$logs/$name.rc"
log="$logs/$name.log"

alive() {
  [ -f "$pidf" ] && kill -0 "-$(cat "$pidf")" 2>/dev/null
}

case "$action" in
  start)
    if alive; then echo running; exit 0; fi
    rm -f "$rcf"
    [ -f "$log" ] && mv -f "$log" "$log.1"
    setsid sh -c '"$1" >>"$2" 2>&1; echo $? >"$3"' run "$dir/$name.sh" "$log" "$rcf" \
      </dev/null >/dev/null 2>&1 &
    echo $! >"$pidf"
    echo started
    ;;
  stop)
    if ! alive; then echo "not running"; exit 0; fi
    pgid=$(cat "$pidf")
    kill -TERM "-$pgid" 2>/dev/null
    i=0
    while alive && [ "$i" -lt "$(( ${STOP_TIMEOUT:-30} * 10 ))" ]; do
      sleep 0.1
      i=$((i + 1))
    done
    if alive; then kill -KILL "-$pgid" 2>/dev/null; echo killed; else echo stopped; fi
    ;;
  status)
    if alive; then echo running
    elif [ -f "$rcf" ]; then echo "exited $(cat "$rcf")"
    else echo absent; fi
    ;;
  *)
    echo "run.sh: unknown action $action" >&2
    exit 2
    ;;
esac
