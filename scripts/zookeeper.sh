#!/usr/bin/env bash
# ZooKeeper for development, tests and benchmarks: Debian's `zookeeper` package, run as plain
# processes on loopback (no systemd), one directory per server under <dir>.
#
#   scripts/zookeeper.sh install              install the zookeeper package when missing
#   scripts/zookeeper.sh start <dir> [PORTS]  start the servers of <dir> that are not running
#   scripts/zookeeper.sh stop <dir> [ID]      kill -9 every server of <dir>, or server ID
#   scripts/zookeeper.sh start-node <dir> ID  start server ID again (after `stop <dir> ID`)
#   scripts/zookeeper.sh url <dir> [PATH]     print zk://127.0.0.1:<port>,.../PATH
#   scripts/zookeeper.sh status <dir>         print each server's mode (or "down")
#
# PORTS (first start only; later starts reuse <dir>'s configuration): one `CLIENT` port for a
# standalone server (default 2181), or one `CLIENT:PEER:ELECTION` triple per server of an
# ensemble, e.g. `2181:2888:3888 2182:2889:3889 2183:2890:3890`.
# Every command is idempotent. Environment: ZK_TICK_MS (tickTime, default 500; sessions may
# be as short as 2 x tickTime), ZK_HEAP (default 128m), ZK_WAIT_SECS (default 30).
set -euo pipefail

JARS=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar
TICK_MS=${ZK_TICK_MS:-500}
HEAP=${ZK_HEAP:-128m}
WAIT_SECS=${ZK_WAIT_SECS:-30}

die() { echo "zookeeper.sh: $*" >&2; exit 1; }

install_package() {
  if dpkg -s zookeeper >/dev/null 2>&1 && [ -f /usr/share/java/zookeeper.jar ]; then
    return
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "installing zookeeper needs root"
    sudo=sudo
  fi
  # The package lists are only refreshed when the install cannot proceed without it.
  export DEBIAN_FRONTEND=noninteractive
  if ! $sudo apt-get install -y --no-install-recommends zookeeper >/dev/null; then
    $sudo apt-get update >/dev/null
    $sudo apt-get install -y --no-install-recommends zookeeper >/dev/null
  fi
  [ -f /usr/share/java/zookeeper.jar ] || die "the zookeeper package did not provide zookeeper.jar"
}

# Sends a four-letter word to a local port and prints the answer (empty when nobody listens).
four_letters() {
  local port=$1 word=$2
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 0
    printf '%s' "$word" >&3
    timeout 2 cat <&3 || true
  ) 2>/dev/null
}

node_ids() {
  local dir=$1
  for cfg in "$dir"/node*/zoo.cfg; do
    [ -f "$cfg" ] || continue
    basename "$(dirname "$cfg")" | sed 's/^node//'
  done | sort -n
}

client_port() {
  sed -n 's/^clientPort=//p' "$1/node$2/zoo.cfg"
}

is_running() {
  local pidfile=$1/node$2/pid
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

write_configs() {
  local dir=$1; shift
  local ports=("$@")
  [ ${#ports[@]} -gt 0 ] || ports=(2181)
  local n=${#ports[@]} servers="" id=0
  if [ "$n" -gt 1 ]; then
    for triple in "${ports[@]}"; do
      id=$((id + 1))
      IFS=: read -r client peer election <<<"$triple"
      [ -n "${election:-}" ] || die "ensemble ports must be CLIENT:PEER:ELECTION, got '$triple'"
      servers+="server.$id=127.0.0.1:$peer:$election"$'\n'
    done
  fi
  id=0
  for triple in "${ports[@]}"; do
    id=$((id + 1))
    IFS=: read -r client _ <<<"$triple"
    local node=$dir/node$id
    mkdir -p "$node/data"
    echo "$id" >"$node/data/myid"
    cat >"$node/zoo.cfg" <<EOF
tickTime=$TICK_MS
initLimit=10
syncLimit=4
dataDir=$node/data
clientPort=$client
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr
forceSync=no
$servers
EOF
  done
}

start_node() {
  local dir=$1 id=$2
  is_running "$dir" "$id" && return 0
  local node=$dir/node$id
  [ -f "$node/zoo.cfg" ] || die "no server $id in $dir"
  nohup java "-Xmx$HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dzookeeper.log.dir="$node" -cp "$JARS" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$node/zoo.cfg" \
    >>"$node/zk.log" 2>&1 </dev/null &
  echo $! >"$node/pid"
}

# Waits until server ID answers `ruok` (it is up; it serves once a quorum is up).
wait_up() {
  local dir=$1 id=$2 port
  port=$(client_port "$dir" "$id")
  for _ in $(seq 1 $((WAIT_SECS * 10))); do
    [ "$(four_letters "$port" ruok)" = imok ] && return 0
    is_running "$dir" "$id" || die "server $id exited; see $dir/node$id/zk.log"
    sleep 0.1
  done
  die "server $id did not answer on port $port within ${WAIT_SECS}s; see $dir/node$id/zk.log"
}

# Waits until every running server reports a mode (standalone, leader or follower).
wait_serving() {
  local dir=$1 id port
  for id in $(node_ids "$dir"); do
    is_running "$dir" "$id" || continue
    port=$(client_port "$dir" "$id")
    local ok=""
    for _ in $(seq 1 $((WAIT_SECS * 10))); do
      if four_letters "$port" srvr | grep -q '^Mode:'; then ok=1; break; fi
      sleep 0.1
    done
    [ -n "$ok" ] || die "server $id is not serving within ${WAIT_SECS}s; see $dir/node$id/zk.log"
  done
}

cmd=${1:-}
case "$cmd" in
  install)
    install_package
    ;;
  start)
    [ $# -ge 2 ] || die "usage: start <dir> [PORTS...]"
    dir=$(realpath -m "$2"); shift 2
    install_package
    mkdir -p "$dir"
    [ -n "$(node_ids "$dir")" ] || write_configs "$dir" "$@"
    for id in $(node_ids "$dir"); do start_node "$dir" "$id"; done
    for id in $(node_ids "$dir"); do wait_up "$dir" "$id"; done
    wait_serving "$dir"
    ;;
  start-node)
    [ $# -eq 3 ] || die "usage: start-node <dir> ID"
    dir=$(realpath -m "$2")
    start_node "$dir" "$3"
    wait_up "$dir" "$3"
    ;;
  stop)
    [ $# -ge 2 ] || die "usage: stop <dir> [ID]"
    dir=$(realpath -m "$2")
    ids=${3:-$(node_ids "$dir")}
    for id in $ids; do
      if is_running "$dir" "$id"; then
        pid=$(cat "$dir/node$id/pid")
        kill -9 "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
      fi
      rm -f "$dir/node$id/pid"
    done
    ;;
  url)
    [ $# -ge 2 ] || die "usage: url <dir> [PATH]"
    dir=$(realpath -m "$2")
    hosts=""
    for id in $(node_ids "$dir"); do hosts+="${hosts:+,}127.0.0.1:$(client_port "$dir" "$id")"; done
    [ -n "$hosts" ] || die "no servers in $dir"
    echo "zk://$hosts${3:-/mesos}"
    ;;
  status)
    [ $# -ge 2 ] || die "usage: status <dir>"
    dir=$(realpath -m "$2")
    for id in $(node_ids "$dir"); do
      port=$(client_port "$dir" "$id")
      mode=$(four_letters "$port" srvr | sed -n 's/^Mode: //p')
      if ! is_running "$dir" "$id"; then mode=down; fi
      echo "server $id (port $port): ${mode:-not serving}"
    done
    ;;
  *)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    [ -z "$cmd" ] || [ "$cmd" = help ] || [ "$cmd" = -h ] || exit 2
    ;;
esac
