# shellcheck shell=bash
# Shared by the benchmark scripts (sourced, not run): logging, installing missing tools, process
# bookkeeping that stops everything a script started, and number formatting. A script sets
# `set -euo pipefail` itself, sources this, then may define `after_cleanup` for its own scratch.

bench_name=$(basename "$0")
log() { echo "$bench_name: $*" >&2; }
kv() { echo "$1=$2"; }

# install_missing PACKAGE:COMMAND...: apt-get installs the packages whose command is missing, so a
# prepared machine runs offline. COMMAND may be a path (/usr/bin/docker-registry).
install_missing() {
  local need=() pair
  for pair in "$@"; do command -v "${pair#*:}" >/dev/null || need+=("${pair%%:*}"); done
  if [ ${#need[@]} -gt 0 ]; then
    log "installing: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# Process bookkeeping: everything started goes into `started`, and the trap stops it all, also
# when a step fails half-way.
started=()
# TERM, up to 10 s for a clean exit, then KILL. Children (nginx's workers) are noted first and
# killed too if they outlive their parent, so a KILLed master leaves no orphan serving.
stop_pid() {
  local pid=$1 _ children
  children=$(pgrep -P "$pid" || true)
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  # shellcheck disable=SC2086 # the children are separate words
  kill -KILL "$pid" $children 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
forget_pid() {
  local pid=$1 keep=() p
  for p in "${started[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  started=("${keep[@]}")
}
cleanup() {
  local pid
  # TERM to all first, so many servers drain and exit side by side rather than one after another.
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do stop_pid "$pid"; done
  if declare -F after_cleanup >/dev/null; then after_cleanup; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port the kernel just handed out and released: free unless something grabs it in between.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until the registry API answers 200 at HOST:PORT, or the process dies.
wait_registry_api() {
  local authority=$1 pid=$2 name=$3 _
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || { log "$name exited during start-up"; return 1; }
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$authority/v2/" || true)" = 200 ] && return 0
    sleep 0.1
  done
  log "$name did not answer on $authority within 30 s"
  return 1
}

# Numbers: n/a passes through every formatter, so a failed measurement shows as such.
calc() { echo "$1" | bc -l; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else print v[int((NR + 1) / 2)] }'; }
isnum() { [[ $1 =~ ^[0-9.]+$ ]]; }
# ratio A B [DIGITS]: A / B with DIGITS decimals (2).
ratio() { if isnum "$1" && isnum "$2" && [ "$(calc "$2 > 0")" = 1 ]; then printf "%.${3:-2}f" "$(calc "$1 / $2")"; else echo n/a; fi; }
secs() { if isnum "$1"; then printf '%.3f' "$1"; else echo n/a; fi; }
mib() { if isnum "$1"; then printf '%.1f' "$(calc "$1 / 1024")"; else echo n/a; fi; }  # KiB -> MiB
now() { date +%s.%N; }
since() { calc "$(now) - $1"; }
status_kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status"; }

# The origin: docker-registry on filesystem storage in $origin_dir, on a free port, with its
# access log on: it is how the bytes the origin sent are counted ("GET <path> HTTP/1.1" <status>
# <bytes>). start_origin DIR sets origin_dir, origin_port and origin_pid.
start_origin() {
  origin_dir=$1
  origin_port=$(free_port)
  rm -rf "$origin_dir"
  mkdir -p "$origin_dir/data"
  cat > "$origin_dir/config.yml" <<CONFIG
version: 0.1
log:
  level: error
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $origin_dir/data
http:
  addr: 127.0.0.1:$origin_port
  secret: blobcache-bench-not-secret
CONFIG
  /usr/bin/docker-registry serve "$origin_dir/config.yml" > "$origin_dir/access.log" 2> "$origin_dir/log" &
  origin_pid=$!
  started+=("$origin_pid")
  wait_registry_api "127.0.0.1:$origin_port" "$origin_pid" origin
}

# The origin's access log stops growing: its lines are written as responses complete.
origin_log_settled() {
  local before after _
  after=$(wc -l < "$origin_dir/access.log")
  for _ in $(seq 50); do
    sleep 0.2
    before=$after
    after=$(wc -l < "$origin_dir/access.log")
    [ "$before" = "$after" ] && return 0
  done
}

# origin_layer_traffic LINE PATH: the bytes the origin sent for PATH, and its GETs of it, in its
# access log from LINE on (a HEAD counts no body).
origin_layer_traffic() {
  tail -n +"$1" "$origin_dir/access.log" | awk -F'"' -v path="$2" '
    { split($2, request, " "); if (request[2] == path) { split($3, numbers, " "); bytes += numbers[2]; if (request[1] == "GET") gets++ } }
    END { print bytes + 0, gets + 0 }'
}

# build_image DIR MIB...: an OCI layout in DIR, tag v1, one layer of fresh random bytes per MIB
# given (umoci gzips them, and random bytes do not compress), built offline with umoci. Sets
# manifest_file, and layer and layer_size for the first layer.
build_image() {
  local image=$1 source=$1.source size manifest
  shift
  rm -rf "$image" "$source"
  mkdir -p "$source"
  umoci init --layout "$image"
  umoci new --image "$image:v1"
  for size in "$@"; do
    head -c "${size}M" /dev/urandom > "$source/layer-$size.bin"
    umoci insert --image "$image:v1" "$source/layer-$size.bin" "/data/layer-$size.bin" > /dev/null
  done
  umoci gc --layout "$image"
  rm -rf "$source"
  manifest=$(jq -r '.manifests[] | select(.annotations."org.opencontainers.image.ref.name" == "v1") | .digest' "$image/index.json")
  manifest_file=$image/blobs/sha256/${manifest#sha256:}
  # shellcheck disable=SC2034 # read by the script that sourced this
  layer=$(jq -r '.layers[0].digest' "$manifest_file")
  # shellcheck disable=SC2034
  layer_size=$(jq -r '.layers[0].size' "$manifest_file")
}

# write_nginx_conf DIR PORT WORKER_CONNECTIONS: the anchor nginx, serving DIR/root as static files
# on 127.0.0.1:PORT as Debian configures it for speed (2 workers, one per core; sendfile and
# tcp_nopush on; no access log), writing nothing outside DIR. Run it with
# `nginx -c DIR/nginx.conf -p DIR`.
write_nginx_conf() {
  local dir=$1 port=$2 worker_connections=$3
  mkdir -p "$dir/tmp"
  cat > "$dir/nginx.conf" <<CONFIG
user root;
worker_processes 2;
worker_rlimit_nofile $(ulimit -n);
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
  worker_connections $worker_connections;
}
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  default_type application/octet-stream;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$port backlog=4096;
    root $dir/root;
  }
}
CONFIG
}

# write_registry_conf DIR PORT: the anchor docker-registry on filesystem storage in DIR/data, on
# 127.0.0.1:PORT, logging errors only (an access log would add load the others do not have);
# the rest is Debian's /etc/docker/registry/config.yml.
# Run it with `docker-registry serve DIR/config.yml`.
write_registry_conf() {
  local dir=$1 port=$2
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<CONFIG
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: blobcache-bench-not-secret
  headers:
    X-Content-Type-Options: [nosniff]
CONFIG
}

# section_arguments BINARY SCRATCH [RESULTS]: the arguments of a script that measures one section
# of RESULTS.md; sets blobcache_bin and scratch (absolute; scratch is made) and results (empty
# when the section is only written to the scratch directory). Exits 2 on a bad call.
section_arguments() {
  if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 <blobcache-binary> <scratch-dir> [results.md]" >&2
    exit 2
  fi
  [ -x "$1" ] || { echo "not an executable: $1" >&2; exit 2; }
  blobcache_bin=$(realpath "$1")
  mkdir -p "$2"
  scratch=$(realpath "$2")
  results=${3:-}
}
