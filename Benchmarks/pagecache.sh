#!/usr/bin/env bash
# Page-cache benchmark: 4 GiB of distinct blobs served several times over, far more than
# blobcache's `page_cache_budget`, by blobcache beside nginx and docker-registry on the same load:
#   - sweep clients (curl, one connection each) read every distinct blob once per pass, for
#     several passes, while hot clients (wrk) keep asking for a small hot set (one 8 MiB blob and
#     64 × 4 KiB) the whole time;
#   - once a second: the resident page cache of the server's blob files (`fincore`), the server's
#     RSS (nginx: master + workers) and the sweep's throughput (client side); for blobcache also
#     its own estimate (the /metrics gauge blobcache_store_page_cache_resident_bytes);
#   - at the end, the hot blobs' resident pages (`fincore`).
# It is the memory failure of a mirror whose container grows to gigabytes: a cgroup is charged
# for the page cache its processes fill as well as their RSS. Every server sees the same bytes:
# nginx and docker-registry through hard links to the generated files, blobcache through
# `blobcache import` (its own verified copy). The page cache is dropped before each server's run.
#
# Usage: Benchmarks/pagecache.sh <blobcache-binary> <scratch-dir> [results.md]
#
# Environment:
#   BENCH_PAGECACHE_BLOBS=256        distinct sweep blobs
#   BENCH_PAGECACHE_BLOB_MIB=16      size of each
#   BENCH_PAGECACHE_PASSES=3         times the sweep reads every blob
#   BENCH_PAGECACHE_SWEEP_CLIENTS=4  concurrent sweep clients
#   BENCH_PAGECACHE_HOT_DELAY_MS=10  pause of each of the 2 hot connections between requests
#
# Output: `key=value` lines on stdout (progress goes to stderr), the series files
# <scratch-dir>/series-<server>.tsv (chart.sh's format, plus a 5th column, blobcache's own estimate
# in MiB, and a 6th, the hot set's resident page cache in MiB), the charts Benchmarks/charts/pagecache-{memory,throughput}.png, and the
# markdown section in <scratch-dir>/pagecache-results.md, also appended to results.md when it is
# given. Every process the script starts is stopped on exit, and the blob data is removed.
# Lists of pids and files travel as space-separated words and are split on purpose when passed on.
# shellcheck disable=SC2046,SC2086,SC2206
set -euo pipefail

# shellcheck source=Benchmarks/common.sh
. "$(dirname "$0")/common.sh"
section_arguments "$@"
blob_count=${BENCH_PAGECACHE_BLOBS:-256}
blob_mib=${BENCH_PAGECACHE_BLOB_MIB:-16}
passes=${BENCH_PAGECACHE_PASSES:-3}
sweep_clients=${BENCH_PAGECACHE_SWEEP_CLIENTS:-4}
hot_delay_ms=${BENCH_PAGECACHE_HOT_DELAY_MS:-10}
hot_small_count=64
charts=$(realpath "$(dirname "$0")")/charts

install_missing nginx-light:nginx wrk:wrk docker-registry:/usr/bin/docker-registry curl:curl \
  util-linux:fincore openssl:openssl procps:pgrep python3:python3 bc:bc gnuplot-nox:gnuplot

data=$scratch/pagecache-data
# Gigabytes: never left behind.
after_cleanup() { rm -rf "$data"; }

# ---------------------------------------------------------------------------------------------
# The blobs, as an OCI image layout (blobs/sha256/<hex>) so that `blobcache import` takes it as it
# is. AES-CTR over zeros is random enough for a cache and several times faster than /dev/urandom.
layout=$data/layout
rm -rf "$data"
mkdir -p "$layout/blobs/sha256" "$data/new"
echo '{"imageLayoutVersion": "1.0.0"}' > "$layout/oci-layout"
start=$(now)
head -c "$(( blob_count * blob_mib + 8 ))M" /dev/zero \
  | openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:pagecache-$(date +%s%N)" 2>/dev/null \
  | split -a 4 -d -b "${blob_mib}M" - "$data/new/sweep-"
mv "$data/new/sweep-$(printf '%04d' "$blob_count")" "$data/new/hot-big"
head -c $(( hot_small_count * 4096 )) /dev/urandom | split -a 4 -d -b 4096 - "$data/new/hot-small-"
# Names by content: `openssl dgst -r` prints "<hex> *<file>".
declare -A hex_of
while read -r hex file; do hex_of[${file#\*}]=$hex; done < <(openssl dgst -sha256 -r "$data"/new/*)
sweep_hex=() hot_hex=()
for file in "$data"/new/*; do
  hex=${hex_of[$file]}
  mv "$file" "$layout/blobs/sha256/$hex"
  case $(basename "$file") in sweep-*) sweep_hex+=("$hex") ;; *) hot_hex+=("$hex") ;; esac
done
hot_big_hex=${hex_of[$data/new/hot-big]}
rmdir "$data/new"
blob_bytes=$(( blob_mib << 20 ))
sweep_bytes=$(( blob_count * blob_bytes ))
hot_set_bytes=$(( (8 << 20) + hot_small_count * 4096 ))
make_seconds=$(since "$start")
log "made ${#sweep_hex[@]} × $blob_mib MiB sweep blobs and ${#hot_hex[@]} hot ones in $(secs "$make_seconds") s"

# ---------------------------------------------------------------------------------------------
# Servers. Each start_* sets <name>_port, <name>_pid and <name>_files (the server's own paths of
# the blobs, in the order of sweep_hex then hot_hex), and answers 200 at /v2/ when it returns.

# blobcache at its defaults (128 MiB memory budget, so a 32 MiB page-cache budget), seeded by
# `blobcache import` from the layout.
blobcache_dir=$data/blobcache
start=$(now)
"$blobcache_bin" import --data-dir "$blobcache_dir" "$layout" > "$scratch/import.log" 2>&1 \
  || { log "blobcache import failed: $(tail -n3 "$scratch/import.log")"; exit 1; }
import_seconds=$(since "$start")
log "blobcache import: $(secs "$import_seconds") s"
start_blobcache() {
  blobcache_port=$(free_port)
  "$blobcache_bin" serve --listen "127.0.0.1:$blobcache_port" --data-dir "$blobcache_dir" --log-level warn \
    > "$scratch/blobcache.out" 2>> "$scratch/blobcache.err" &
  blobcache_pid=$!
  started+=("$blobcache_pid")
  blobcache_files=""
  for hex in "${sweep_hex[@]}" "${hot_hex[@]}"; do blobcache_files+=" $blobcache_dir/blobs/sha256/${hex:0:2}/$hex"; done
  wait_registry_api "127.0.0.1:$blobcache_port" "$blobcache_pid" blobcache
}

# nginx as http.sh runs it: 2 workers, sendfile and tcp_nopush on, access log off, the blobs hard
# linked under the registry's URL shape. /v2/ answers from an empty index.html.
nginx_dir=$data/nginx
mkdir -p "$nginx_dir/root/v2/bench/blobs" "$nginx_dir/tmp"
: > "$nginx_dir/root/v2/index.html"
nginx_files=""
for hex in "${sweep_hex[@]}" "${hot_hex[@]}"; do
  ln "$layout/blobs/sha256/$hex" "$nginx_dir/root/v2/bench/blobs/sha256:$hex"
  nginx_files+=" $nginx_dir/root/v2/bench/blobs/sha256:$hex"
done
start_nginx() {
  nginx_port=$(free_port)
  write_nginx_conf "$nginx_dir" "$nginx_port" 1024
  nginx -c "$nginx_dir/nginx.conf" -p "$nginx_dir" &
  nginx_pid=$!
  started+=("$nginx_pid")
  wait_registry_api "127.0.0.1:$nginx_port" "$nginx_pid" nginx
}

# docker-registry on filesystem storage, its layout written directly: each blob hard linked as
# blobs/sha256/<xx>/<hex>/data and linked into the repository `bench` by _layers/sha256/<hex>/link.
registry_dir=$data/registry
registry_root=$registry_dir/data/docker/registry/v2
registry_files=""
for hex in "${sweep_hex[@]}" "${hot_hex[@]}"; do
  mkdir -p "$registry_root/blobs/sha256/${hex:0:2}/$hex" "$registry_root/repositories/bench/_layers/sha256/$hex"
  ln "$layout/blobs/sha256/$hex" "$registry_root/blobs/sha256/${hex:0:2}/$hex/data"
  printf 'sha256:%s' "$hex" > "$registry_root/repositories/bench/_layers/sha256/$hex/link"
  registry_files+=" $registry_root/blobs/sha256/${hex:0:2}/$hex/data"
done
start_registry() {
  registry_port=$(free_port)
  write_registry_conf "$registry_dir" "$registry_port"
  /usr/bin/docker-registry serve "$registry_dir/config.yml" > "$registry_dir/log" 2>&1 &
  registry_pid=$!
  started+=("$registry_pid")
  wait_registry_api "127.0.0.1:$registry_port" "$registry_pid" docker-registry
}

# The processes whose memory counts as the server's.
server_pids() {
  case $1 in
    nginx) echo "$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')" ;;
    *) local p=${1}_pid; echo "${!p}" ;;
  esac
}
sum_status_kib() {
  local key=$1 total=0 pid; shift
  for pid in "$@"; do total=$((total + $(status_kib "$key" "$pid"))); done
  echo "$total"
}
# Sums are printed with %.0f: mawk prints numbers above 2^31 as 2.14748e+09, which bc cannot read.
resident_bytes() { fincore -b -n -o RES "$@" | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
metric() { curl -s "http://127.0.0.1:$blobcache_port/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

# ---------------------------------------------------------------------------------------------
# The load.

# Hot clients: wrk rotating over the hot paths, pausing between requests, until interrupted
# (SIGINT makes wrk stop and print its totals).
cat > "$scratch/hot.lua" <<EOF
local paths = {}
local n = 0
function init(args)
  for _, p in ipairs(args) do paths[#paths + 1] = p end
end
function request()
  n = n % #paths + 1
  return wrk.format(nil, paths[n])
end
function delay()
  return $hot_delay_ms
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk_requests=%d\nwrk_bytes=%d\nwrk_errors=%d\n",
    summary.requests, summary.bytes, e.connect + e.read + e.write + e.timeout + e.status))
end
EOF

# One curl config per sweep client: client c reads blobs c, c + clients, … in every pass, over
# one kept-alive connection, and writes "<status> <bytes>" per blob to stderr (unbuffered, so the
# sampler sees each blob as it completes).
write_sweep_configs() {  # port
  local c i
  for c in $(seq 0 $(( sweep_clients - 1 ))); do
    {
      printf '%s\n' 'write-out = "%{stderr}%{http_code} %{size_download}\n"'
      for _ in $(seq "$passes"); do
        for (( i = c; i < blob_count; i += sweep_clients )); do
          echo "url = \"http://127.0.0.1:$1/v2/bench/blobs/sha256:${sweep_hex[$i]}\""
          echo 'output = "/dev/null"'
        done
      done
    } > "$scratch/sweep-$c.curl"
  done
}

# Once a second until the stop file appears: seconds, RSS MiB, sweep MiB/s, resident page cache
# of the blob files MiB, blobcache's own estimate MiB (`?` for the others), and the resident
# page cache of the hot set MiB.
sample() {  # server series-file
  local server=$1 series=$2 t0 t last_t=0 done_bytes last_bytes=0 rss cache own hot files_var=${1}_files k=0
  local files
  files=(${!files_var})
  t0=$(now)
  : > "$series"
  while [ ! -e "$scratch/stop-sampling" ]; do
    t=$(since "$t0")
    done_bytes=$({ cat "$scratch"/sweep-*.out 2>/dev/null || true; } | awk '{ s += $2 } END { printf "%.0f\n", s }')
    rss=$(sum_status_kib VmRSS $(server_pids "$server"))
    cache=$(resident_bytes "${files[@]}")
    hot=$(resident_bytes "${files[@]:$blob_count}")
    own='?'
    [ "$server" = blobcache ] && own=$(calc "$(metric blobcache_store_page_cache_resident_bytes) / 1048576")
    if [ "$k" -gt 0 ]; then
      printf '%.2f\t%.1f\t%.1f\t%.1f\t%s\t%.2f\n' "$t" "$(calc "$rss / 1024")" \
        "$(calc "($done_bytes - $last_bytes) / 1048576 / ($t - $last_t)")" "$(calc "$cache / 1048576")" "$own" "$(calc "$hot / 1048576")" >> "$series"
    else
      printf '%.2f\t%.1f\t?\t%.1f\t%s\t%.2f\n' "$t" "$(calc "$rss / 1024")" "$(calc "$cache / 1048576")" "$own" "$(calc "$hot / 1048576")" >> "$series"
    fi
    last_t=$t last_bytes=$done_bytes k=$((k + 1))
    sleep "$(calc "$k - $(since "$t0")" | awk '{ print ($1 > 0.05) ? $1 : 0.05 }')"
  done
}

# A kernel that reclaims cold memory on its own (DAMON's pageout, as some VM hosts configure it)
# takes page cache from every server alike: the unbounded ones then look smaller than they are.
reclaim_note=""
for state in /sys/kernel/mm/damon/admin/kdamonds/*/state; do
  [ "$(cat "$state" 2>/dev/null)" = on ] || continue
  if grep -qx pageout "${state%/state}"/contexts/*/schemes/*/action 2>/dev/null; then
    reclaim_note="This kernel runs DAMON with a \`pageout\` scheme, which reclaims page cache left untouched for a while, whoever holds it: the figures of nginx and docker-registry, which bound nothing themselves, are lower bounds."
  fi
done

# Page cache of the whole machine, dropped so that every server starts with its blobs cold.
drop_note=""
drop_caches() {
  sync
  echo 1 > /proc/sys/vm/drop_caches 2>/dev/null || drop_note="The page cache could not be dropped here (no permission), so runs after the first started warm."
}

declare -A peak_cache end_cache peak_charged hwm throughput hot_resident hot_lowest hot_requests peak_own budget_of
servers=(blobcache nginx registry)
for server in "${servers[@]}"; do
  "start_$server"
  port_var=${server}_port
  port=${!port_var}
  files_var=${server}_files
  # The right bytes first: a sweep blob and the hot big one.
  for hex in "${sweep_hex[0]}" "$hot_big_hex"; do
    got=$(curl -sS -f "http://127.0.0.1:$port/v2/bench/blobs/sha256:$hex" | openssl dgst -sha256 -r | cut -d' ' -f1)
    [ "$got" = "$hex" ] || { log "$server served wrong bytes for sha256:$hex"; exit 1; }
  done
  [ "$server" = blobcache ] && budget_of[blobcache]=$(metric blobcache_store_page_cache_budget_bytes)
  write_sweep_configs "$port"
  rm -f "$scratch"/sweep-*.out "$scratch/stop-sampling"
  drop_caches
  log "$server: $passes passes over $blob_count × $blob_mib MiB with $sweep_clients clients, hot set beside"

  series=$scratch/series-$server.tsv
  sample "$server" "$series" &
  sampler=$!
  started+=("$sampler")
  hot_paths=()
  for hex in "${hot_hex[@]}"; do hot_paths+=("/v2/bench/blobs/sha256:$hex"); done
  sleep 1
  wrk -t1 -c2 -d1h --timeout 60s -s "$scratch/hot.lua" "http://127.0.0.1:$port" -- "${hot_paths[@]}" \
    > "$scratch/hot-$server.txt" 2>&1 &
  hot=$!
  started+=("$hot")
  start=$(now)
  clients=()
  for c in $(seq 0 $(( sweep_clients - 1 ))); do
    curl -s --max-time 600 -K "$scratch/sweep-$c.curl" 2> "$scratch/sweep-$c.out" &
    clients+=($!)
  done
  failed=0
  for pid in "${clients[@]}"; do wait "$pid" || failed=1; done
  sweep_seconds=$(since "$start")
  kill -INT "$hot"
  wait "$hot" || true
  forget_pid "$hot"
  bad=$(cat "$scratch"/sweep-*.out | grep -cvx "200 $blob_bytes" || true)
  got=$(cat "$scratch"/sweep-*.out | wc -l)
  if [ "$failed" = 1 ] || [ "$bad" != 0 ] || [ "$got" != $(( blob_count * passes )) ]; then
    log "$server: the sweep got $got answers, $bad of them not 200 with the whole blob"; exit 1
  fi
  hot_errors=$(grep '^wrk_errors=' "$scratch/hot-$server.txt" | cut -d= -f2)
  [ "${hot_errors:-x}" = 0 ] || { log "$server: hot clients: $(tail -n3 "$scratch/hot-$server.txt")"; exit 1; }
  hot_requests[$server]=$(grep '^wrk_requests=' "$scratch/hot-$server.txt" | cut -d= -f2)
  sleep 1
  touch "$scratch/stop-sampling"
  wait "$sampler" || true
  forget_pid "$sampler"

  # The hot blobs' pages, the last sample, the peaks over the run.
  # The server's files list the sweep blobs first, then the hot ones.
  all_files=(${!files_var})
  hot_resident[$server]=$(resident_bytes "${all_files[@]:$blob_count}")
  # The hot clients start a second in, and need a moment to go round the hot set once.
  hot_lowest[$server]=$(awk 'NR > 1 && $1 >= 3 { if (m == "" || $6 < m) m = $6 } END { print (m == "" ? "n/a" : m) }' "$series")
  peak_cache[$server]=$(awk '{ if ($4 > m) m = $4 } END { print m + 0 }' "$series")
  end_cache[$server]=$(tail -n1 "$series" | cut -f4)
  peak_charged[$server]=$(awk '{ if ($2 + $4 > m) m = $2 + $4 } END { print m + 0 }' "$series")
  hwm[$server]=$(sum_status_kib VmHWM $(server_pids "$server"))
  throughput[$server]=$(calc "$passes * $sweep_bytes / 1048576 / $sweep_seconds")
  [ "$server" = blobcache ] && peak_own[blobcache]=$(awk '{ if ($5 > m) m = $5 } END { print m + 0 }' "$series")
  log "$server: $(printf '%.0f' "${throughput[$server]}") MiB/s; page cache peak ${peak_cache[$server]} MiB, end ${end_cache[$server]} MiB; hot set resident $(printf '%.2f' "$(calc "${hot_resident[$server]} / 1048576")") MiB (lowest ${hot_lowest[$server]})"
  pid_var=${server}_pid
  stop_pid "${!pid_var}"
  forget_pid "${!pid_var}"
done

# ---------------------------------------------------------------------------------------------
# Figures, charts and the report section.
label() { case $1 in registry) echo docker-registry ;; *) echo "$1" ;; esac; }
if [ $(( sweep_bytes % (1 << 30) )) = 0 ]; then sweep_size="$(( sweep_bytes >> 30 )) GiB"; else sweep_size="$(( sweep_bytes >> 20 )) MiB"; fi
budget_mib=$(calc "${budget_of[blobcache]} / 1048576")
hot_set_mib=$(calc "$hot_set_bytes / 1048576")
above_budget=$(awk -v b="$budget_mib" '$4 > b { n++ } END { print n + 0 }' "$scratch/series-blobcache.tsv")
samples=$(wc -l < "$scratch/series-blobcache.tsv")
budget_verdict=fail
[ "$(calc "${peak_cache[blobcache]} <= $budget_mib")" = 1 ] && budget_verdict=pass
# What the kernel reads ahead of each sweep client's send, which no server counts: the data
# disk's read_ahead_kb (a partition's is its disk's), n/a on a filesystem without one.
data_device=$(basename "$(findmnt -n -o SOURCE -T "$scratch")")
read_ahead_kib=$(cat "/sys/class/block/$data_device/queue/read_ahead_kb" 2>/dev/null \
  || cat "/sys/class/block/$data_device/../queue/read_ahead_kb" 2>/dev/null || echo n/a)
allowance_verdict=n/a
if isnum "$read_ahead_kib"; then
  allowance_mib=$(calc "$budget_mib + $sweep_clients * $read_ahead_kib / 1024")
  allowance_verdict=fail
  [ "$(calc "${peak_cache[blobcache]} <= $allowance_mib")" = 1 ] && allowance_verdict=pass
fi
# Kept: the whole hot set resident in every sample after the warm-up and at the end.
hot_verdict=fail
if [ "${hot_resident[blobcache]}" -ge "$hot_set_bytes" ] && isnum "${hot_lowest[blobcache]}" \
  && [ "$(calc "${hot_lowest[blobcache]} >= $(printf '%.2f' "$hot_set_mib")")" = 1 ]; then
  hot_verdict=pass
fi
kv pagecache_budget_bytes "${budget_of[blobcache]}"
kv pagecache_budget_held "$budget_verdict"
kv pagecache_read_ahead_kib "$read_ahead_kib"
kv pagecache_budget_plus_read_ahead_held "$allowance_verdict"
kv pagecache_hot_set_kept "$hot_verdict"
kv pagecache_samples_above_budget "$above_budget/$samples"
kv pagecache_own_estimate_peak_mib "${peak_own[blobcache]}"
for s in "${servers[@]}"; do
  kv "pagecache_peak_mib_$s" "${peak_cache[$s]}"
  kv "pagecache_end_mib_$s" "${end_cache[$s]}"
  kv "pagecache_hwm_kib_$s" "${hwm[$s]}"
  kv "pagecache_peak_charged_mib_$s" "${peak_charged[$s]}"
  kv "pagecache_sweep_mibs_$s" "$(printf '%.0f' "${throughput[$s]}")"
  kv "pagecache_hot_resident_bytes_$s" "${hot_resident[$s]}"
  kv "pagecache_hot_lowest_mib_$s" "${hot_lowest[$s]}"
  kv "pagecache_hot_requests_$s" "${hot_requests[$s]}"
done

mkdir -p "$charts"
series_args=()
for s in "${servers[@]}"; do series_args+=("$(label "$s")=$scratch/series-$s.tsv"); done
# shellcheck disable=SC2016 # a gnuplot expression, not a shell one
"$(dirname "$0")/chart.sh" "$charts/pagecache-memory.png" \
  "RSS + resident page cache of the blob files: $passes × $sweep_size of distinct blobs + a hot set" \
  "MiB" '($2+$4)' "${series_args[@]}"
"$(dirname "$0")/chart.sh" "$charts/pagecache-throughput.png" \
  "Sweep throughput (client side): $passes × $sweep_size of distinct blobs, $sweep_clients clients" \
  "MiB/s" 3 "${series_args[@]}"
log "charts in $charts"

row() {  # server
  local s=$1 name
  name=$(label "$s")
  [ "$s" = blobcache ] && name="**blobcache** (budget $(printf '%.0f' "$budget_mib") MiB)"
  echo "| $name | $(printf '%.1f' "${peak_cache[$s]}") | $(printf '%.1f' "${end_cache[$s]}") | $(mib "${hwm[$s]}") | $(printf '%.1f' "${peak_charged[$s]}") | $(printf '%.0f' "${throughput[$s]}") | ${hot_lowest[$s]} / $(printf '%.2f' "$(calc "${hot_resident[$s]} / 1048576")") of $(printf '%.2f' "$hot_set_mib") |"
}
ratios() {  # server
  local s=$1
  echo "| $(label "$s") ÷ nginx | $(ratio "${peak_cache[$s]}" "${peak_cache[nginx]}") | | $(ratio "${hwm[$s]}" "${hwm[nginx]}") | $(ratio "${peak_charged[$s]}" "${peak_charged[nginx]}") | $(ratio "${throughput[$s]}" "${throughput[nginx]}") | |"
}
{
  echo "## Page cache: $sweep_size through a $(printf '%.0f' "$budget_mib") MiB budget"
  echo
  echo "Run by \`Benchmarks/pagecache.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) cores, $(free -g | awk '/Mem:/ { print $2 }') GiB memory,"
  echo "Linux $(uname -r), data on $(findmnt -n -o FSTYPE -T "$scratch")."
  echo "$blob_count distinct blobs of $blob_mib MiB ($sweep_size of random bytes) are read $passes times over by $sweep_clients"
  echo "sweep clients (curl, one kept-alive connection each), while 2 hot connections (wrk, ${hot_delay_ms} ms"
  echo "between requests) keep asking for a hot set of one 8 MiB blob and $hot_small_count × 4 KiB the whole time."
  echo "The same load, one server after the other: blobcache at its defaults (\`page_cache_budget\` read from"
  echo "/metrics), nginx (2 workers, \`sendfile on\`) and docker-registry (filesystem storage), on the same"
  echo "bytes (hard links; blobcache its own copy by \`blobcache import\`). The page cache is dropped before each"
  echo "server's run. ${drop_note:+$drop_note }Once a second: \`fincore\` over the server's blob files, its RSS (nginx: master"
  echo "+ workers) and the sweep's throughput (client side). Peak RSS is the kernel's VmHWM.${reclaim_note:+ $reclaim_note}"
  echo
  echo "| server | peak page cache of its blobs, MiB | page cache at the end, MiB | peak RSS, MiB | peak RSS + page cache (cgroup charge), MiB | sweep MiB/s | hot set resident, lowest during the run / at the end, MiB |"
  echo "|---|---|---|---|---|---|---|"
  for s in "${servers[@]}"; do row "$s"; done
  ratios blobcache
  ratios registry
  echo
  echo "blobcache against its budget: peak page cache $(printf '%.1f' "${peak_cache[blobcache]}") MiB against $(printf '%.0f' "$budget_mib") MiB: **$budget_verdict**"
  echo "($above_budget of $samples samples above it). Pages the kernel reads ahead of a send are counted by no server: with"
  echo "$sweep_clients sweep clients and \`read_ahead_kb\` = $read_ahead_kib on the data disk, within the budget + $sweep_clients × $read_ahead_kib KiB: **$allowance_verdict**."
  echo "Hot set resident in every sample after the first 3 s and at the end: **$hot_verdict**. Its own estimate"
  echo "(\`blobcache_store_page_cache_resident_bytes\`) peaked at $(printf '%.1f' "${peak_own[blobcache]}") MiB. Hot requests answered:"
  echo "blobcache ${hot_requests[blobcache]}, nginx ${hot_requests[nginx]}, docker-registry ${hot_requests[registry]}."
  echo
  echo "![RSS + page cache over time](charts/pagecache-memory.png)"
  echo "![sweep throughput over time](charts/pagecache-throughput.png)"
  echo
  echo "curl $(curl --version | awk 'NR == 1 { print $2 }'), wrk $(wrk --version 2>&1 | head -n1 | awk '{ print $2 }'), $(nginx -v 2>&1 | cut -d' ' -f3),"
  echo "docker-registry $(/usr/bin/docker-registry --version | awk '{ print $3 }'), $(fincore --version). Making the blobs took"
  echo "$(secs "$make_seconds") s, \`blobcache import\` $(secs "$import_seconds") s."
} > "$scratch/pagecache-results.md"
log "wrote $scratch/pagecache-results.md"
if [ -n "$results" ]; then
  { echo; cat "$scratch/pagecache-results.md"; } >> "$results"
  log "appended the section to $results"
fi
