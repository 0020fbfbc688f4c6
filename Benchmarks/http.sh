#!/usr/bin/env bash
# HTTP serving benchmarks: blobcache side by side with its anchors on the same machine,
# the same bytes and the same client (wrk):
#   - nginx, 2 workers, `sendfile on`, serving the blobs as static files: the speed of light;
#   - docker-registry 2.8 (Debian's, i.e. registry:2) standalone, filesystem storage.
#
# Usage: Benchmarks/http.sh <blobcache-binary> <scratch-dir>
#
# Environment:
#   BENCH_HTTP_RUNS=3            runs per server per throughput figure (medians are reported)
#   BENCH_HTTP_SECONDS=5         wrk duration of one throughput run
#   BENCH_HTTP_REGISTRY_RUNS=3   cap on docker-registry's 4 KiB runs (it is slow, and only an anchor)
#   BENCH_HTTP_MEM_SECONDS=10    duration of the 1,000 + 1,000 connection memory test
#   BENCH_HTTP_SMALL_BLOBS=16    number of distinct 4 KiB blobs the memory test rotates over
#   BENCH_HTTP_PREFIX=/v2/bench/blobs
#                                URL prefix every server is asked for (nginx's docroot holds the
#                                blobs under both /v2/bench/blobs and /blobs, blobcache answers
#                                both, docker-registry only /v2/...); /blobs measures the plain CAS API
#   BENCH_HTTP_ONLY_ANCHORS=1    skip blobcache (the binary argument is then ignored): checks the
#                                harness and measures the anchors alone
#
# Output: `key=value` lines on stdout (progress goes to stderr) and a markdown table fragment
# in <scratch-dir>/http-results.md. Every process the script starts is stopped on exit.
# Lists of pids travel as space-separated words and are split on purpose when passed on.
# shellcheck disable=SC2046,SC2086
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <blobcache-binary> <scratch-dir>" >&2
  exit 2
fi
only_anchors=${BENCH_HTTP_ONLY_ANCHORS:-0}
blobcache_bin=$1
if [ "$only_anchors" != 1 ]; then
  [ -x "$blobcache_bin" ] || { echo "not an executable: $blobcache_bin" >&2; exit 2; }
  blobcache_bin=$(realpath "$blobcache_bin")
fi
mkdir -p "$2"
scratch=$(realpath "$2")

runs=${BENCH_HTTP_RUNS:-3}
seconds=${BENCH_HTTP_SECONDS:-5}
registry_runs=${BENCH_HTTP_REGISTRY_RUNS:-3}
if [ "$registry_runs" -gt "$runs" ]; then registry_runs=$runs; fi
mem_seconds=${BENCH_HTTP_MEM_SECONDS:-10}
small_count=${BENCH_HTTP_SMALL_BLOBS:-16}
prefix=${BENCH_HTTP_PREFIX:-/v2/bench/blobs}
prefix=${prefix%/}

# shellcheck source=Benchmarks/common.sh
. "$(dirname "$0")/common.sh"
install_missing nginx-light:nginx wrk:wrk docker-registry:/usr/bin/docker-registry curl:curl procps:pgrep python3:python3 bc:bc

# 2,000 concurrent client sockets plus as many server sockets: raise the descriptor limit as far
# as this environment lets us (the hard limit may be below 65536 inside a sandbox).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4200 ]; then
  log "open-file limit $(ulimit -n) is too low for the 2,000-connection test"
  exit 1
fi

# Waits until something answers HTTP on the port (any status), or the process dies.
wait_http() {
  local port=$1 pid=$2 name=$3 i
  for i in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || { log "$name exited during start-up"; return 1; }
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true)" != 000 ]; then
      return 0
    fi
    sleep 0.1
  done
  log "$name did not answer on port $port within 30 s"
  return 1
}

# ---------------------------------------------------------------------------------------------
# Numbers.
int() { if isnum "$1"; then printf '%.0f' "$1"; else echo n/a; fi; }
mibs() { if isnum "$1"; then printf '%.0f' "$(calc "$1 / 1048576")"; else echo n/a; fi; }  # B/s -> MiB/s
ms() { if isnum "$1"; then printf '%.3f' "$(calc "$1 / 1000000")"; else echo n/a; fi; }   # ns -> ms

# utime + stime, in clock ticks, of a set of processes (field 14 and 15 of /proc/PID/stat; the
# part after the last ')' is parsed so a command name with spaces cannot shift the fields).
cpu_ticks() {
  local total=0 pid t
  for pid in "$@"; do
    t=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
    total=$((total + t))
  done
  echo "$total"
}
sum_status_kib() {
  local key=$1 total=0 pid; shift
  for pid in "$@"; do total=$((total + $(status_kib "$key" "$pid"))); done
  echo "$total"
}

# ---------------------------------------------------------------------------------------------
# The blobs: random bytes, made once per scratch dir and reused by later runs. Every server gets
# exactly these bytes.
blobs=$scratch/blobs
mkdir -p "$blobs"
make_blob() {  # name size
  local name=$1 size=$2
  if [ ! -s "$blobs/$name.digest" ] || [ "$(stat -c %s "$blobs/$name" 2>/dev/null || echo 0)" != "$size" ]; then
    head -c "$size" /dev/urandom > "$blobs/$name"
    sha256sum "$blobs/$name" | cut -d' ' -f1 > "$blobs/$name.digest"
  fi
}
make_blob big 67108864
make_blob medium 16777216
small_names=()
for i in $(seq "$small_count"); do
  make_blob "small$i" 4096
  small_names+=("small$i")
done
digest() { echo "sha256:$(cat "$blobs/$1.digest")"; }
all_names=(big medium "${small_names[@]}")
log "blobs ready in $blobs"

# wrk script: rotates over the paths given after `--` (one path is the plain case), and prints
# exact totals in done(): wrk's own Transfer/sec line is rounded and in decimal-ish units.
cat > "$scratch/bench.lua" <<'EOF'
local paths = {}
local n = 0
function init(args)
  for _, p in ipairs(args) do paths[#paths + 1] = p end
end
function request()
  if #paths == 0 then return wrk.format(nil) end
  n = n % #paths + 1
  return wrk.format(nil, paths[n])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk_requests=%d\nwrk_bytes=%d\nwrk_duration_us=%d\n",
    summary.requests, summary.bytes, summary.duration))
  io.write(string.format("wrk_errors=%d\nwrk_status_errors=%d\nwrk_timeouts=%d\n",
    e.connect + e.read + e.write + e.timeout + e.status, e.status, e.timeout))
end
EOF
wrk_value() { local v; v=$(grep "^$1=" "$2" | tail -n1 | cut -d= -f2 || true); echo "${v:-0}"; }

# ---------------------------------------------------------------------------------------------
# Servers. Each start_* sets <name>_pid and <name>_port; the port is chosen once and kept across
# restarts so URLs stay valid.

# nginx: the docroot holds the same bytes under /blobs/sha256:<hex> and
# /v2/bench/blobs/sha256:<hex> (hard links, so one file each). Choices, to be fair and stock:
#   worker_processes 2 (one per core), sendfile on and tcp_nopush on (Debian's nginx.conf),
#   access_log off (blobcache runs at log level warn), open_file_cache left at its default (off:
#   nginx opens and fstat()s the file on every request, as a store lookup would), keepalive and
#   sendfile_max_chunk at their defaults. worker_connections and the listen backlog are raised
#   only so that 2,000 clients can connect at all; they cost nothing until used.
#   Running as root (`user root`) only so workers can read the scratch dir wherever it is.
nginx_dir=$scratch/nginx
nginx_port=$(free_port)
rm -rf "$nginx_dir"
mkdir -p "$nginx_dir/root/blobs" "$nginx_dir/root/v2/bench/blobs" "$nginx_dir/tmp"
for name in "${all_names[@]}"; do
  for d in "$nginx_dir/root/blobs" "$nginx_dir/root/v2/bench/blobs"; do
    ln "$blobs/$name" "$d/$(digest "$name")" 2>/dev/null || cp "$blobs/$name" "$d/$(digest "$name")"
  done
done
write_nginx_conf "$nginx_dir" "$nginx_port" 8192
nginx_conf=$nginx_dir/nginx.conf
nginx -t -q -c "$nginx_conf" -p "$nginx_dir"
nginx_pid=""
start_nginx() {
  nginx -c "$nginx_conf" -p "$nginx_dir" &
  nginx_pid=$!
  started+=("$nginx_pid")
  wait_http "$nginx_port" "$nginx_pid" nginx
  local i
  for i in $(seq 50); do
    [ "$(pgrep -P "$nginx_pid" | wc -l)" -ge 2 ] && return 0
    sleep 0.1
  done
  log "nginx workers did not start"; return 1
}
# Only the workers serve; the master only forks them.
nginx_workers() { pgrep -P "$nginx_pid" | tr '\n' ' '; }

# docker-registry: filesystem storage in scratch, no auth, access log off and level error (as
# nginx and blobcache log nothing per request), the periodic storage health check off (it would
# add load that the others do not have). The rest is Debian's /etc/docker/registry/config.yml.
registry_dir=$scratch/registry
registry_port=$(free_port)
rm -rf "$registry_dir"
write_registry_conf "$registry_dir" "$registry_port"
registry_pid=""
start_registry() {
  /usr/bin/docker-registry serve "$registry_dir/config.yml" > "$registry_dir/log" 2>&1 &
  registry_pid=$!
  started+=("$registry_pid")
  wait_http "$registry_port" "$registry_pid" docker-registry
}

# blobcache: the plain CAS API for loading (PUT /blobs/<digest>, answered 201 once durable).
blobcache_dir=$scratch/blobcache-data
blobcache_port=$(free_port)
blobcache_pid=""
# The throughput runs give blobcache a 512 MiB memory budget, whose page-cache share (128 MiB)
# holds the hot 64 MiB blob as nginx's unbounded page cache does; with the default 128 MiB budget
# (32 MiB of page cache) the store would rightly evict that blob's pages between requests. The
# memory test runs on the default budget.
blobcache_budget=512MiB
start_blobcache() {
  "$blobcache_bin" serve --listen "127.0.0.1:$blobcache_port" --data-dir "$blobcache_dir" \
    --memory-budget "$blobcache_budget" --log-level warn > "$scratch/blobcache.out" 2> "$scratch/blobcache.err" &
  blobcache_pid=$!
  started+=("$blobcache_pid")
  local i
  # It prints one line saying where it listens once it is ready.
  for i in $(seq 300); do
    [ -s "$scratch/blobcache.out" ] && break
    kill -0 "$blobcache_pid" 2>/dev/null || { log "blobcache exited: $(tail -n5 "$scratch/blobcache.err")"; return 1; }
    sleep 0.1
  done
  wait_http "$blobcache_port" "$blobcache_pid" blobcache
}

stop_server() {  # name
  local pidvar=${1}_pid
  stop_pid "${!pidvar}"
  forget_pid "${!pidvar}"
}
start_server() { "start_$1"; }

servers=(nginx registry)
[ "$only_anchors" = 1 ] || servers=(blobcache nginx registry)

url() {  # server blob-name
  local port=${1}_port
  echo "http://127.0.0.1:${!port}$(path_of "$1" "$2")"
}
path_of() {
  if [ "$1" = registry ]; then echo "/v2/bench/blobs/$(digest "$2")"; else echo "$prefix/$(digest "$2")"; fi
}
# The processes whose CPU and memory count as "the server".
server_pids() {
  case $1 in
    nginx) echo "$nginx_pid $(nginx_workers)" ;;
    *) local p=${1}_pid; echo "${!p}" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Start, load and check.
for s in "${servers[@]}"; do
  [ "$s" = blobcache ] && rm -rf "$blobcache_dir"
  start_server "$s"
  log "$s up on 127.0.0.1:$(p=${s}_port; echo "${!p}")"
done

if [ "$only_anchors" != 1 ]; then
  for name in "${all_names[@]}"; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$blobs/$name" \
      "http://127.0.0.1:$blobcache_port/blobs/$(digest "$name")")
    case $code in 200|201|204) ;; *) log "blobcache PUT $name answered $code"; exit 1 ;; esac
  done
fi

# docker-registry has no plain PUT: a monolithic upload is POST (open a session) then
# PUT <Location>&digest=<digest> with the body.
for name in "${all_names[@]}"; do
  location=$(curl -sS -o /dev/null -D - -X POST "http://127.0.0.1:$registry_port/v2/bench/blobs/uploads/" \
    | awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
  [ -n "$location" ] || { log "docker-registry gave no upload location"; exit 1; }
  case $location in /*) location="http://127.0.0.1:$registry_port$location" ;; esac
  case $location in *\?*) sep='&' ;; *) sep='?' ;; esac
  code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$blobs/$name" \
    -H 'Content-Type: application/octet-stream' "$location${sep}digest=$(digest "$name")")
  [ "$code" = 201 ] || { log "docker-registry PUT $name answered $code"; exit 1; }
done

# Every server must hand back the exact bytes before its speed means anything; this also makes
# the blobs hot in the page cache.
for s in "${servers[@]}"; do
  for name in "${all_names[@]}"; do
    got=$(curl -sS -f "$(url "$s" "$name")" | sha256sum | cut -d' ' -f1)
    [ "sha256:$got" = "$(digest "$name")" ] || { log "$s served wrong bytes for $name"; exit 1; }
  done
done
log "all servers serve the right bytes"

if [ "$only_anchors" != 1 ]; then
  sleep 2
  idle_rss_blobcache=$(status_kib VmRSS "$blobcache_pid")
  kv http_idle_rss_kib_blobcache "$idle_rss_blobcache"
fi
idle_rss_nginx=$(sum_status_kib VmRSS $(server_pids nginx))
idle_rss_registry=$(sum_status_kib VmRSS $(server_pids registry))
kv http_idle_rss_kib_nginx "$idle_rss_nginx"
kv http_idle_rss_kib_registry "$idle_rss_registry"

# ---------------------------------------------------------------------------------------------
# Throughput. Servers alternate run by run, so drift on a shared machine hits all of them alike.
declare -A rps4k bps64m cpu64m
for s in "${servers[@]}"; do : > "$scratch/4k.$s"; : > "$scratch/64m-bps.$s"; : > "$scratch/64m-cpu.$s"; done

run_wrk() {  # out threads connections seconds url [paths...]
  local out=$1 t=$2 c=$3 d=$4 u=$5; shift 5
  wrk -t"$t" -c"$c" -d"${d}s" --timeout 60s -s "$scratch/bench.lua" "$u" -- "$@" > "$out" 2>&1 || {
    log "wrk failed: $(tail -n3 "$out")"; return 1; }
  local errs; errs=$(wrk_value wrk_status_errors "$out")
  [ "${errs:-0}" = 0 ] || log "warning: $errs non-2xx/3xx responses in $out"
}

log "hot 4 KiB: wrk -t2 -c64, ${seconds}s x $runs runs"
for r in $(seq "$runs"); do
  for s in "${servers[@]}"; do
    [ "$s" = registry ] && [ "$r" -gt "$registry_runs" ] && continue
    out=$scratch/wrk-4k-$s-$r.txt
    run_wrk "$out" 2 64 "$seconds" "$(url "$s" small1)"
    calc "$(wrk_value wrk_requests "$out") * 1000000 / $(wrk_value wrk_duration_us "$out")" >> "$scratch/4k.$s"
  done
done

log "hot 64 MiB: wrk -t2 -c8, ${seconds}s x $runs runs (docker-registry skipped)"
for r in $(seq "$runs"); do
  for s in "${servers[@]}"; do
    [ "$s" = registry ] && continue
    out=$scratch/wrk-64m-$s-$r.txt
    pids=$(server_pids "$s")
    before=$(cpu_ticks $pids)
    run_wrk "$out" 2 8 "$seconds" "$(url "$s" big)"
    after=$(cpu_ticks $pids)
    bytes=$(wrk_value wrk_bytes "$out")
    calc "$bytes * 1000000 / $(wrk_value wrk_duration_us "$out")" >> "$scratch/64m-bps.$s"
    # CPU nanoseconds per MiB sent (headers included in the bytes; noise at this size).
    calc "($after - $before) * 1000000000 / $(getconf CLK_TCK) / ($bytes / 1048576)" >> "$scratch/64m-cpu.$s"
  done
done

for s in "${servers[@]}"; do
  rps4k[$s]=$(median < "$scratch/4k.$s")
  bps64m[$s]=$(median < "$scratch/64m-bps.$s")
  cpu64m[$s]=$(median < "$scratch/64m-cpu.$s")
  kv "http_4k_rps_$s" "$(int "${rps4k[$s]}")"
  if [ "$s" != registry ]; then
    kv "http_64m_bps_$s" "$(int "${bps64m[$s]}")"
    kv "http_64m_cpu_ns_per_mib_$s" "$(int "${cpu64m[$s]}")"
  fi
done

if [ "$only_anchors" != 1 ]; then
  sleep 2
  idle_rss_after_throughput=$(status_kib VmRSS "$blobcache_pid")
  kv http_idle_rss_after_throughput_kib_blobcache "$idle_rss_after_throughput"
fi

# ---------------------------------------------------------------------------------------------
# Memory under 2,000 clients: 1,000 connections downloading the 16 MiB blob while 1,000 more ask
# for 4 KiB blobs, for BENCH_HTTP_MEM_SECONDS. Each server is restarted first so that VmHWM (the
# kernel's peak-RSS mark) belongs to this test alone. nginx's figure is the sum over master and
# both workers, since all three are what it takes to serve (the master is ~1-2 MiB).
declare -A hwm
small_paths=()
blobcache_budget=128MiB
for s in "${servers[@]}"; do
  stop_server "$s"
  start_server "$s"
  small_paths=()
  for name in "${small_names[@]}"; do small_paths+=("$(path_of "$s" "$name")"); done
  log "memory: $s, 1000 x 16 MiB + 1000 x 4 KiB for ${mem_seconds}s"
  wrk -t2 -c1000 -d"${mem_seconds}s" --timeout 120s -s "$scratch/bench.lua" "$(url "$s" medium)" \
    > "$scratch/wrk-mem-16m-$s.txt" 2>&1 &
  big_wrk=$!
  started+=("$big_wrk")
  wrk -t2 -c1000 -d"${mem_seconds}s" --timeout 120s -s "$scratch/bench.lua" "$(url "$s" small1)" \
    -- "${small_paths[@]}" > "$scratch/wrk-mem-4k-$s.txt" 2>&1 &
  small_wrk=$!
  started+=("$small_wrk")
  wait "$big_wrk" || log "wrk (16 MiB) failed against $s: $(tail -n3 "$scratch/wrk-mem-16m-$s.txt")"
  wait "$small_wrk" || log "wrk (4 KiB) failed against $s: $(tail -n3 "$scratch/wrk-mem-4k-$s.txt")"
  forget_pid "$big_wrk"; forget_pid "$small_wrk"
  pids=$(server_pids "$s")
  hwm[$s]=$(sum_status_kib VmHWM $pids)
  kv "http_mem_hwm_kib_$s" "${hwm[$s]}"
  kv "http_mem_16m_requests_$s" "$(wrk_value wrk_requests "$scratch/wrk-mem-16m-$s.txt")"
  kv "http_mem_4k_requests_$s" "$(wrk_value wrk_requests "$scratch/wrk-mem-4k-$s.txt")"
  kv "http_mem_errors_$s" "$(( $(wrk_value wrk_errors "$scratch/wrk-mem-16m-$s.txt") + $(wrk_value wrk_errors "$scratch/wrk-mem-4k-$s.txt") ))"
  if [ "$s" = nginx ]; then
    for p in $pids; do kv "http_mem_hwm_kib_nginx_pid_$p" "$(status_kib VmHWM "$p")"; done
  fi
  if [ "$s" = blobcache ]; then
    sleep 2
    idle_rss_after_mem=$(status_kib VmRSS "$blobcache_pid")
    kv http_idle_rss_after_load_kib_blobcache "$idle_rss_after_mem"
  fi
  stop_server "$s"
done

# ---------------------------------------------------------------------------------------------
# Ratios and the report fragment.
b() { if [ "$only_anchors" = 1 ]; then echo n/a; else echo "$1"; fi; }
r4k=$(ratio "$(b "${rps4k[blobcache]:-}")" "${rps4k[nginx]}" 3)
r4k_registry=$(ratio "${rps4k[registry]}" "${rps4k[nginx]}" 3)
r64=$(ratio "$(b "${bps64m[blobcache]:-}")" "${bps64m[nginx]}" 3)
rcpu=$(ratio "$(b "${cpu64m[blobcache]:-}")" "${cpu64m[nginx]}" 3)
rhwm=$(ratio "$(b "${hwm[blobcache]:-}")" "${hwm[nginx]}" 3)
kv http_4k_ratio_blobcache_vs_nginx "$r4k"
kv http_4k_ratio_registry_vs_nginx "$r4k_registry"
kv http_64m_bps_ratio_blobcache_vs_nginx "$r64"
kv http_64m_cpu_ratio_blobcache_vs_nginx "$rcpu"
kv http_mem_hwm_ratio_blobcache_vs_nginx "$rhwm"

{
  echo "| what | blobcache | nginx | docker-registry | ratio vs nginx | goal |"
  echo "|---|---|---|---|---|---|"
  echo "| hot 4 KiB blob, 64 connections, req/s | $(int "$(b "${rps4k[blobcache]:-}")") | $(int "${rps4k[nginx]}") | $(int "${rps4k[registry]}") | $r4k (registry: $r4k_registry) | ≥ 1.0× nginx |"
  echo "| hot 64 MiB blob, 8 connections, MiB/s | $(mibs "$(b "${bps64m[blobcache]:-}")") | $(mibs "${bps64m[nginx]}") | — | $r64 | ≥ 0.95× nginx |"
  echo "| hot 64 MiB blob, server CPU ms per MiB sent | $(ms "$(b "${cpu64m[blobcache]:-}")") | $(ms "${cpu64m[nginx]}") | — | $rcpu | ≤ 1.1× nginx |"
  echo "| 1,000 × 16 MiB + 1,000 × 4 KiB clients, peak RSS (VmHWM), MiB | $(mib "$(b "${hwm[blobcache]:-}")") | $(mib "${hwm[nginx]}") (master + 2 workers) | $(mib "${hwm[registry]}") | $rhwm | ≤ 48 MiB |"
  echo "| idle RSS after start and loading the blobs, MiB | $(mib "$(b "${idle_rss_blobcache:-}")") | $(mib "$idle_rss_nginx") | $(mib "$idle_rss_registry") | | ≤ 16 MiB |"
  echo "| idle RSS after the throughput runs, MiB | $(mib "$(b "${idle_rss_after_throughput:-}")") | | | | ≤ 16 MiB |"
  echo "| idle RSS 2 s after the 2,000-client test, MiB | $(mib "$(b "${idle_rss_after_mem:-}")") | | | | ≤ 16 MiB |"
  echo
  echo "wrk $(wrk --version 2>&1 | head -n1 | awk '{ print $2 }'), $(nginx -v 2>&1 | cut -d' ' -f3), docker-registry $(/usr/bin/docker-registry --version | awk '{ print $3 }');"
  echo "medians of $runs runs of ${seconds} s (docker-registry: $registry_runs), servers alternating run by run;"
  echo "URL prefix \`$prefix\` for blobcache and nginx. The client shares the machine's $(nproc) cores with the server."
} > "$scratch/http-results.md"
log "wrote $scratch/http-results.md"
