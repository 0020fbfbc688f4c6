#!/usr/bin/env bash
# Mixed soak: blobcache under BENCH_SOAK_CONNECTIONS (9,000) concurrent keep-alive connections for
# BENCH_SOAK_SECONDS (300), one wrk process per kind of request so each kind has its own latency
# distribution:
#   - hot 4 KiB GETs, rotating over 64 preloaded blobs;
#   - hot 16 MiB GETs of one preloaded blob;
#   - Range GETs: single ranges of 1 byte to 64 KiB at random offsets into the 16 MiB blob (206);
#   - cold misses: GETs of distinct digests that blobcache lacks and fills from its upstream, a
#     docker-registry origin on this machine; paced with wrk's delay() so that the prepared blobs
#     last the whole run (BENCH_SOAK_COLD_RATE a second);
#   - uploads: monolithic `POST /v2/<name>/blobs/uploads/?digest=` of distinct 16 KiB blobs (201),
#     paced likewise (BENCH_SOAK_UPLOAD_RATE a second).
# blobcache runs the release build at its default memory budget (128 MiB), as a mirror
# (`--upstream`) that takes pushes (`--mirror-push`), on a fresh data directory. Once a second the
# server's RSS, open and accepted connections, requests and page cache (from /metrics, over one
# keep-alive connection) and the clients' received bytes are sampled. Goals: no errors, peak RSS
# (VmHWM) ≤ 64 MiB, the connection count never below the clients' after ramp-up, no reconnects.
#
# Then the anchors: the hot-read part of the mix (4 KiB + 16 MiB + ranges, the same number of
# connections) for BENCH_SOAK_ANCHOR_SECONDS (60) against nginx (2 workers, sendfile, the same bytes
# as static files; RSS = master + workers), docker-registry (filesystem storage) and blobcache, each
# a fresh process, sampled the same way (throughput from the client side).
#
# Usage: Benchmarks/soak.sh <blobcache-binary> <scratch-dir> [results.md]
#
# Environment:
#   BENCH_SOAK_SECONDS=300          length of the mixed run
#   BENCH_SOAK_ANCHOR_SECONDS=60    length of each hot-read run
#   BENCH_SOAK_CONNECTIONS=9000     client connections (split 51:44:2:1:1 over 4 KiB, ranges,
#                                   16 MiB, cold misses and uploads; the hot-read runs give the
#                                   last two's share to 4 KiB)
#   BENCH_SOAK_COLD_RATE=10         cold misses a second
#   BENCH_SOAK_UPLOAD_RATE=10       uploads a second
#
# Output: `key=value` lines on stdout (progress goes to stderr), the markdown section in
# <scratch-dir>/soak-results.md, also appended to results.md when it is given, and the charts
# Benchmarks/charts/soak-{mixed,mixed-connections,rss,rss-registry,throughput}.png. Every process
# the script starts is stopped on exit.
set -euo pipefail

# shellcheck source=Benchmarks/common.sh
. "$(dirname "$0")/common.sh"
section_arguments "$@"
charts=$(realpath "$(dirname "$0")")/charts
seconds=${BENCH_SOAK_SECONDS:-300}
anchor_seconds=${BENCH_SOAK_ANCHOR_SECONDS:-60}
connections=${BENCH_SOAK_CONNECTIONS:-9000}
cold_rate=${BENCH_SOAK_COLD_RATE:-10}
upload_rate=${BENCH_SOAK_UPLOAD_RATE:-10}
if ! [[ $connections =~ ^[0-9]+$ ]] || [ "$connections" -lt 180 ]; then
  echo "BENCH_SOAK_CONNECTIONS must be at least 180" >&2
  exit 2
fi

install_missing docker-registry:/usr/bin/docker-registry wrk:wrk nginx-light:nginx gnuplot-nox:gnuplot \
  curl:curl procps:pgrep python3:python3 bc:bc
after_cleanup() { rm -rf "$scratch/origin" "$scratch/blobcache-data" "$scratch/nginx" "$scratch/registry" "$scratch/blobs"; }

# Every client connection is a descriptor in wrk and one in the server, which also keeps up to
# 1,024 cached blob descriptors per loop: raise the limit as far as this environment lets us.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((connections + 4096)) ]; then
  log "open-file limit $(ulimit -n) is too low for $connections connections"
  exit 1
fi

# The connections of each kind; 4 KiB takes the rounding.
range_conns=$((connections * 44 / 100))
big_conns=$((connections * 2 / 100))
cold_conns=$((connections / 100))
upload_conns=$((connections / 100))
small_conns=$((connections - range_conns - big_conns - cold_conns - upload_conns))
hot_small_conns=$((connections - range_conns - big_conns))
# Each paced connection waits a random 0..2×mean ms before each request: `rate` a second in all.
cold_delay_ms=$((cold_conns * 1000 / cold_rate))
upload_delay_ms=$((upload_conns * 1000 / upload_rate))
# Enough distinct blobs for the run at the paced rate, with a margin.
cold_count=$((cold_rate * seconds * 5 / 4 + cold_conns))
upload_count=$((upload_rate * seconds * 5 / 4 + upload_conns))
upload_bytes=16384
small_count=64
range_max=65536

field() { local v; v=$(grep "^$1=" "$2" | tail -n1 | cut -d= -f2 || true); echo "${v:-n/a}"; }
# A count for sums: a figure wrk did not print (it failed; wait_clients said so) adds nothing.
count() { local v; v=$(field "$@"); if isnum "$v"; then echo "$v"; else echo 0; fi; }
fixed() { if isnum "$2"; then printf "%.${1}f" "$2"; else echo n/a; fi; }
thousands() { echo "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }
int() { if isnum "$1"; then printf '%.0f' "$1"; else echo n/a; fi; }
ms() { if isnum "$1"; then printf '%.1f' "$(calc "$1 / 1000")"; else echo n/a; fi; }  # µs -> ms
metric() { curl -s "http://$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

# ---------------------------------------------------------------------------------------------
# Blobs: the hot set (64 × 4 KiB, one 16 MiB), the cold set written straight into the origin's
# storage layout (faster than pushing thousands of blobs), and the uploads as one file of
# 16 KiB bodies with their digests.
blobs=$scratch/blobs
rm -rf "$blobs"
mkdir -p "$blobs"
cat > "$scratch/make_blobs.py" <<'EOF'
import hashlib, os, random, sys

def hot(directory, count):
    names = []
    for i in range(count):
        body = os.urandom(16 << 20 if i == 0 else 4096)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        with open(os.path.join(directory, digest), "wb") as f:
            f.write(body)
        names.append(digest)
    print("\n".join(names))

def cold(root, repository, count, smallest, largest, digests):
    # docker-registry's filesystem layout: the blob's data, and the repository's link to it.
    v2 = os.path.join(root, "docker/registry/v2")
    with open(digests, "w") as out:
        for _ in range(count):
            body = os.urandom(random.randint(smallest, largest))
            hex = hashlib.sha256(body).hexdigest()
            blob = os.path.join(v2, "blobs/sha256", hex[:2], hex)
            os.makedirs(blob, exist_ok=True)
            with open(os.path.join(blob, "data"), "wb") as f:
                f.write(body)
            link = os.path.join(v2, "repositories", repository, "_layers/sha256", hex)
            os.makedirs(link, exist_ok=True)
            with open(os.path.join(link, "link"), "w") as f:
                f.write("sha256:" + hex)
            out.write("sha256:%s\n" % hex)

def uploads(count, size, bodies, digests):
    with open(bodies, "wb") as b, open(digests, "w") as d:
        for _ in range(count):
            body = os.urandom(size)
            b.write(body)
            d.write("sha256:%s\n" % hashlib.sha256(body).hexdigest())

kind = sys.argv[1]
if kind == "hot": hot(sys.argv[2], int(sys.argv[3]))
elif kind == "cold": cold(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7])
else: uploads(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
EOF
# The first hot blob is the 16 MiB one.
mapfile -t hot_digests < <(python3 "$scratch/make_blobs.py" hot "$blobs" $((small_count + 1)))
big_digest=${hot_digests[0]}
small_digests=("${hot_digests[@]:1}")
python3 "$scratch/make_blobs.py" uploads "$upload_count" "$upload_bytes" "$blobs/uploads.bin" "$blobs/uploads.digests"

start_origin "$scratch/origin"
# One more cold blob than the run asks for: the probe that checks the fill path before the run.
python3 "$scratch/make_blobs.py" cold "$origin_dir/data" soak/cold $((cold_count + 1)) 65536 196608 "$blobs/cold.all"
head -n "$cold_count" "$blobs/cold.all" > "$blobs/cold.digests"
cold_probe=$(tail -n1 "$blobs/cold.all")
log "blobs ready: $small_count × 4 KiB and 16 MiB hot, $cold_count cold in the origin (127.0.0.1:$origin_port), $upload_count uploads"

# ---------------------------------------------------------------------------------------------
# wrk scripts, one per kind. Each prints exact totals, latency percentiles (µs) and errors in
# done(); `unexpected` counts responses with another status than the kind's (only kinds with a
# response() hook: wrk then hands the body to Lua, too costly for 16 MiB, so hot GETs count only
# wrk's own status errors, ≥ 400) and `reused` requests beyond the prepared blobs.
lua_common='
threads = {}
unexpected = 0
reused = 0
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
done = function(summary, latency, requests)
  local e = summary.errors
  local bad, again = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("unexpected") or 0)
    again = again + (t:get("reused") or 0)
  end
  io.write(string.format("requests=%d\nbytes=%d\nduration_us=%d\n", summary.requests, summary.bytes, summary.duration))
  io.write(string.format("p50_us=%d\np99_us=%d\nmax_us=%d\n", latency:percentile(50), latency:percentile(99), latency.max))
  io.write(string.format("connect=%d\nread=%d\nwrite=%d\ntimeout=%d\nstatus=%d\nunexpected=%d\nreused=%d\n",
    e.connect, e.read, e.write, e.timeout, e.status, bad, again))
end
'
lines_lua='
local function lines(file)
  local all = {}
  for line in io.lines(file) do all[#all + 1] = line end
  return all
end
'
# hot: rotates over the paths given after `--`.
cat > "$scratch/hot.lua" <<EOF
$lua_common
local paths = {}
local n = 0
function init(args)
  for _, p in ipairs(args) do paths[#paths + 1] = p end
  n = id % #paths
end
function request()
  n = n % #paths + 1
  return wrk.format(nil, paths[n])
end
EOF
# range: -- PATH SIZE MAXLEN
cat > "$scratch/range.lua" <<EOF
$lua_common
local path, size, maxlen
function init(args)
  path, size, maxlen = args[1], tonumber(args[2]), tonumber(args[3])
  math.randomseed(os.time() * 16 + id)
end
function request()
  local first = math.random(0, size - 1)
  local last = math.min(first + math.random(1, maxlen) - 1, size - 1)
  return wrk.format(nil, path, { Range = "bytes=" .. first .. "-" .. last })
end
function response(status, headers, body)
  if status ~= 206 then unexpected = unexpected + 1 end
end
EOF
# cold: -- DIGESTS PREFIX MEAN_DELAY_MS (one thread: the digests are used once each, in order)
cat > "$scratch/cold.lua" <<EOF
$lua_common
$lines_lua
local digests, prefix, mean
local n = 0
function init(args)
  digests, prefix, mean = lines(args[1]), args[2], tonumber(args[3])
  math.randomseed(os.time() * 16 + id)
end
function delay() return math.random(0, 2 * mean) end
function request()
  n = n + 1
  if n > #digests then reused = reused + 1 end
  return wrk.format(nil, prefix .. digests[(n - 1) % #digests + 1])
end
function response(status, headers, body)
  if status ~= 200 then unexpected = unexpected + 1 end
end
EOF
# upload: -- BODIES DIGESTS PREFIX SIZE MEAN_DELAY_MS (one thread, likewise)
cat > "$scratch/upload.lua" <<EOF
$lua_common
$lines_lua
local bodies, digests, prefix, size, mean
local n = 0
function init(args)
  local f = assert(io.open(args[1], "rb"))
  bodies = f:read("*a")
  f:close()
  digests, prefix, size, mean = lines(args[2]), args[3], tonumber(args[4]), tonumber(args[5])
  math.randomseed(os.time() * 16 + id)
end
function delay() return math.random(0, 2 * mean) end
function request()
  n = n + 1
  if n > #digests then reused = reused + 1 end
  local i = (n - 1) % #digests + 1
  return wrk.format("POST", prefix .. "?digest=" .. digests[i],
    { ["Content-Type"] = "application/octet-stream" }, string.sub(bodies, (i - 1) * size + 1, i * size))
end
function response(status, headers, body)
  if status ~= 201 then unexpected = unexpected + 1 end
end
EOF

# ---------------------------------------------------------------------------------------------
# The sampler: once a second, the server's RSS (sum over PIDS), the clients' received MiB/s (the
# `rchar` of the wrk processes: bytes their read() calls returned), and with a /metrics address
# the page cache the store holds, connections open and accepted and requests/s, over one
# keep-alive connection. A line: the series format of chart.sh, then three more columns:
#   seconds-since-the-clients-started  rss-MiB  client-MiB/s  page-cache-MiB  connections-open  accepted-total  requests/s
cat > "$scratch/sampler.py" <<'EOF'
import http.client, signal, sys, time

out, servers, clients, metrics = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4]
epoch = float(sys.argv[5])  # the wall-clock second the clients started: seconds count from it
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

def rss_kib(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"): return int(line.split()[1])
    return 0

last_rchar = {}
def rchar(pid):
    try:
        with open("/proc/%s/io" % pid) as f:
            for line in f:
                if line.startswith("rchar:"): last_rchar[pid] = int(line.split()[1])
    except OSError:
        pass  # exited: its bytes stay as last read
    return last_rchar.get(pid, 0)

connection = None
def scrape():
    global connection
    names = {"blobcache_connections_open": "open", "blobcache_connections_accepted_total": "accepted",
             "blobcache_store_page_cache_resident_bytes": "cache"}
    try:
        if connection is None:
            connection = http.client.HTTPConnection(metrics, timeout=5)
        connection.request("GET", "/metrics")
        body = connection.getresponse().read().decode()
    except (OSError, http.client.HTTPException) as error:
        print("sampler: /metrics failed: %s" % error, file=sys.stderr)
        connection = None
        return None
    values = {"requests": 0.0}
    for line in body.splitlines():
        parts = line.split()
        if len(parts) != 2: continue
        name = parts[0].split("{")[0]
        if name == "blobcache_http_requests_total": values["requests"] += float(parts[1])
        elif name in names: values[names[name]] = float(parts[1])
    return values

start = time.monotonic()
previous = None
tick = 0
with open(out, "w") as series:
    while True:
        now = time.monotonic()
        rss = sum(rss_kib(pid) for pid in servers) / 1024
        received = sum(rchar(pid) for pid in clients)
        scraped = scrape() if metrics != "-" else None
        row = ["%.1f" % (time.time() - epoch), "%.1f" % rss, "?", "?", "?", "?", "?"]
        if previous is not None:
            elapsed = now - previous[0]
            row[2] = "%.1f" % ((received - previous[1]) / elapsed / 1048576)
            if scraped and previous[2]:
                row[6] = "%.0f" % ((scraped["requests"] - previous[2]["requests"]) / elapsed)
        if scraped:
            row[3] = "%.1f" % (scraped.get("cache", 0) / 1048576)
            row[4] = "%.0f" % scraped.get("open", 0)
            row[5] = "%.0f" % scraped.get("accepted", 0)
        series.write("\t".join(row) + "\n")
        series.flush()
        previous = (now, received, scraped)
        tick += 1
        time.sleep(max(0.0, start + tick - time.monotonic()))
EOF

# ---------------------------------------------------------------------------------------------
# Runs. run_kind OUT LUA CONNECTIONS THREADS SECONDS URL [ARGS...] starts one wrk in the
# background and appends its pid to `clients`; wait_clients waits for them all.
clients=()
run_kind() {
  local out=$1 lua=$2 c=$3 t=$4 d=$5 u=$6
  shift 6
  wrk -t"$t" -c"$c" -d"${d}s" --timeout 60s -s "$lua" "$u" -- "$@" > "$out" 2>&1 &
  clients+=($!)
  started+=($!)
}
wait_clients() {
  local pid
  for pid in "${clients[@]}"; do
    wait "$pid" || log "a wrk exited with status $?"
    forget_pid "$pid"
  done
  clients=()
}
sampler_pid=""
start_sampler() {  # OUT "SERVER PIDS" METRICS-AUTHORITY|- CLIENTS-START
  python3 "$scratch/sampler.py" "$1" "$2" "${clients[*]}" "$3" "$4" 2>> "$scratch/sampler.err" &
  sampler_pid=$!
  started+=("$sampler_pid")
}
stop_sampler() { stop_pid "$sampler_pid"; forget_pid "$sampler_pid"; }

# The hot-read mix against one server at authority $1 with prefix $2, into files $3-<kind>.txt.
hot_read_mix() {
  local base=http://$1 prefix=$2 out=$3 paths=() d
  for d in "${small_digests[@]}"; do paths+=("$prefix/$d"); done
  run_kind "$out-small.txt" "$scratch/hot.lua" "$hot_small_conns" 2 "$anchor_seconds" "$base" "${paths[@]}"
  run_kind "$out-big.txt" "$scratch/hot.lua" "$big_conns" 1 "$anchor_seconds" "$base" "$prefix/$big_digest"
  run_kind "$out-range.txt" "$scratch/range.lua" "$range_conns" 2 "$anchor_seconds" "$base" \
    "$prefix/$big_digest" $((16 << 20)) "$range_max"
}

# ---------------------------------------------------------------------------------------------
# blobcache: default budget, mirroring the origin, taking pushes; the hot blobs preloaded
# through the plain CAS API. Fresh data directory for the mixed run; the hot-read run restarts
# it on the same directory so that its VmHWM is that run's.
blobcache_port=$(free_port)
blobcache_pid=""
blobcache_dir=$scratch/blobcache-data
start_blobcache() {
  "$blobcache_bin" serve --listen "127.0.0.1:$blobcache_port" --data-dir "$blobcache_dir" \
    --upstream "http://127.0.0.1:$origin_port" --mirror-push --log-level warn \
    > "$scratch/blobcache.out" 2>> "$scratch/blobcache.err" &
  blobcache_pid=$!
  started+=("$blobcache_pid")
  wait_registry_api "127.0.0.1:$blobcache_port" "$blobcache_pid" blobcache
}
stop_blobcache() { stop_pid "$blobcache_pid"; forget_pid "$blobcache_pid"; }

# GET of URL, hashed, must be DIGEST.
check_bytes() {
  local got
  got=$(curl -sS -f "$1" | sha256sum | cut -d' ' -f1)
  [ "sha256:$got" = "$2" ] || { log "$1 answered wrong bytes"; return 1; }
}

rm -rf "$blobcache_dir"
start_blobcache
for d in "${hot_digests[@]}"; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$blobs/$d" "http://127.0.0.1:$blobcache_port/blobs/$d")
  case $code in 200|201|204) ;; *) log "blobcache PUT $d answered $code"; exit 1 ;; esac
done
check_bytes "http://127.0.0.1:$blobcache_port/v2/soak/hot/blobs/$big_digest" "$big_digest"
check_bytes "http://127.0.0.1:$blobcache_port/v2/soak/hot/blobs/${small_digests[0]}" "${small_digests[0]}"
check_bytes "http://127.0.0.1:$blobcache_port/v2/soak/cold/blobs/$cold_probe" "$cold_probe"
log "blobcache up on 127.0.0.1:$blobcache_port (pid $blobcache_pid), hot blobs loaded, the fill path works"

# ---------------------------------------------------------------------------------------------
# The mixed run.
origin_log_settled
origin_first_line=$(( $(wc -l < "$origin_dir/access.log") + 1 ))
accepted_before=$(metric "127.0.0.1:$blobcache_port" blobcache_connections_accepted_total)
log "mixed: $connections connections ($small_conns × 4 KiB, $range_conns × range, $big_conns × 16 MiB, $cold_conns × cold at $cold_rate/s, $upload_conns × upload at $upload_rate/s) for ${seconds}s"
small_paths=()
for d in "${small_digests[@]}"; do small_paths+=("/v2/soak/hot/blobs/$d"); done
base=http://127.0.0.1:$blobcache_port
mixed_start=$(now)
run_kind "$scratch/mixed-small.txt" "$scratch/hot.lua" "$small_conns" 2 "$seconds" "$base" "${small_paths[@]}"
run_kind "$scratch/mixed-big.txt" "$scratch/hot.lua" "$big_conns" 1 "$seconds" "$base" "/v2/soak/hot/blobs/$big_digest"
run_kind "$scratch/mixed-range.txt" "$scratch/range.lua" "$range_conns" 2 "$seconds" "$base" \
  "/v2/soak/hot/blobs/$big_digest" $((16 << 20)) "$range_max"
run_kind "$scratch/mixed-cold.txt" "$scratch/cold.lua" "$cold_conns" 1 "$seconds" "$base" \
  "$blobs/cold.digests" /v2/soak/cold/blobs/ "$cold_delay_ms"
run_kind "$scratch/mixed-upload.txt" "$scratch/upload.lua" "$upload_conns" 1 "$seconds" "$base" \
  "$blobs/uploads.bin" "$blobs/uploads.digests" /v2/soak/uploads/blobs/uploads/ "$upload_bytes" "$upload_delay_ms"
start_sampler "$scratch/series-mixed.tsv" "$blobcache_pid" "127.0.0.1:$blobcache_port" "$mixed_start"
wait_clients
mixed_wall=$(since "$mixed_start")
stop_sampler
mixed_hwm=$(status_kib VmHWM "$blobcache_pid")
mixed_rss_end=$(status_kib VmRSS "$blobcache_pid")
curl -s "http://127.0.0.1:$blobcache_port/metrics" > "$scratch/metrics-after-mixed.txt"
mval() { awk -v m="$1" '$1 == m { print $2 }' "$scratch/metrics-after-mixed.txt"; }
fills_completed=$(mval blobcache_mirror_fills_completed_total)
fills_failed=$(mval blobcache_mirror_fills_failed_total)
peak_metric=$(mval blobcache_resident_memory_peak_bytes)
origin_log_settled
origin_cold_gets=$(tail -n +"$origin_first_line" "$origin_dir/access.log" | grep -c '"GET /v2/soak/cold/blobs/sha256:[0-9a-f]* HTTP/1.1" 200' || true)
stop_blobcache

# Connections during the steady phase: from the first sample with every client connected until
# 2 s before wrk's end. The sampler's own connection is one of those counted; it is taken off.
# Accepted beyond the clients' connections: reconnects, less the sampler's connection and the one
# connection each wrk process opens and closes at start to check the address.
read -r ramp_seconds open_min open_max accepted_steady < <(awk -F'\t' -v want="$connections" -v end="$((seconds - 2))" '
  $5 != "?" { open = $5 - 1
    if (ramp == "" && open >= want) ramp = $1
    if (ramp != "" && $1 <= end) { if (min == "" || open < min) min = open; if (open > max) max = open; accepted = $6 } }
  END { if (ramp == "") print "n/a", "n/a", "n/a", "n/a"; else print ramp, min, max, accepted }' "$scratch/series-mixed.tsv")
page_cache_max=$(awk -F'\t' '$4 != "?" && $4 > max { max = $4 } END { print max + 0 }' "$scratch/series-mixed.tsv")
reconnects=n/a
if isnum "$accepted_steady"; then reconnects=$((accepted_steady - accepted_before - 1 - 5 - connections)); fi
total_errors=0
for kind in small big range cold upload; do
  f=$scratch/mixed-$kind.txt
  e=0
  for k in connect read write timeout; do e=$((e + $(count "$k" "$f"))); done
  case $kind in small|big) bad=$(count status "$f") ;; *) bad=$(count unexpected "$f") ;; esac
  e=$((e + bad))
  declare "errors_$kind=$e" "bad_$kind=$bad"
  total_errors=$((total_errors + e))
  kv "soak_${kind}_requests" "$(field requests "$f")"
  kv "soak_${kind}_p50_us" "$(field p50_us "$f")"
  kv "soak_${kind}_p99_us" "$(field p99_us "$f")"
  kv "soak_${kind}_errors" "$e"
done
kv soak_errors "$total_errors"
kv soak_peak_rss_kib "$mixed_hwm"
kv soak_connections_min "$open_min"
kv soak_connections_max "$open_max"
kv soak_reconnects "$reconnects"
kv soak_fills_completed "$fills_completed"
log "mixed done: $total_errors errors, peak RSS $(mib "$mixed_hwm") MiB, connections $open_min..$open_max, reconnects $reconnects"

# ---------------------------------------------------------------------------------------------
# The hot-read anchors. nginx: the docroot holds the same bytes under the same paths (hard
# links); 2 workers, sendfile on, access log off, worker_connections raised so that one worker
# could hold every client. docker-registry: filesystem storage, access log off, the blobs pushed
# through its API.
nginx_dir=$scratch/nginx
nginx_port=$(free_port)
rm -rf "$nginx_dir"
mkdir -p "$nginx_dir/root/v2/soak/hot/blobs" "$nginx_dir/tmp"
for d in "${hot_digests[@]}"; do
  ln "$blobs/$d" "$nginx_dir/root/v2/soak/hot/blobs/$d" 2>/dev/null || cp "$blobs/$d" "$nginx_dir/root/v2/soak/hot/blobs/$d"
done
write_nginx_conf "$nginx_dir" "$nginx_port" $((connections + 1024))

registry_dir=$scratch/registry
registry_port=$(free_port)
rm -rf "$registry_dir"
write_registry_conf "$registry_dir" "$registry_port"

declare -A anchor_pids anchor_authority
start_anchor() {
  case $1 in
    blobcache)
      start_blobcache
      anchor_pids[$1]=$blobcache_pid
      anchor_authority[$1]=127.0.0.1:$blobcache_port ;;
    nginx)
      nginx -c "$nginx_dir/nginx.conf" -p "$nginx_dir" &
      nginx_pid=$!
      started+=("$nginx_pid")
      local _
      for _ in $(seq 100); do
        [ "$(pgrep -P "$nginx_pid" | wc -l)" -ge 2 ] && break
        sleep 0.1
      done
      anchor_pids[$1]="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"
      anchor_authority[$1]=127.0.0.1:$nginx_port ;;
    registry)
      /usr/bin/docker-registry serve "$registry_dir/config.yml" > "$registry_dir/log" 2>&1 &
      registry_pid=$!
      started+=("$registry_pid")
      wait_registry_api "127.0.0.1:$registry_port" "$registry_pid" docker-registry
      anchor_pids[$1]=$registry_pid
      anchor_authority[$1]=127.0.0.1:$registry_port
      # A monolithic upload: POST opens a session, PUT <Location>&digest= brings the body.
      local d location sep code
      for d in "${hot_digests[@]}"; do
        location=$(curl -sS -o /dev/null -D - -X POST "http://127.0.0.1:$registry_port/v2/soak/hot/blobs/uploads/" \
          | awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
        case $location in /*) location="http://127.0.0.1:$registry_port$location" ;; esac
        case $location in *\?*) sep='&' ;; *) sep='?' ;; esac
        code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$blobs/$d" -H 'Content-Type: application/octet-stream' "$location${sep}digest=$d")
        [ "$code" = 201 ] || { log "docker-registry PUT $d answered $code"; return 1; }
      done ;;
  esac
}
stop_anchor() {
  local pid first=${anchor_pids[$1]%% *}
  stop_pid "$first"
  forget_pid "$first"
}

anchors=(blobcache nginx registry)
declare -A a_rps a_bps a_hwm a_errors a_small_rps a_big_bps a_range_rps a_small_p99
for s in "${anchors[@]}"; do
  start_anchor "$s"
  check_bytes "http://${anchor_authority[$s]}/v2/soak/hot/blobs/$big_digest" "$big_digest"
  check_bytes "http://${anchor_authority[$s]}/v2/soak/hot/blobs/${small_digests[0]}" "${small_digests[0]}"
  log "hot reads: $s, $hot_small_conns × 4 KiB + $range_conns × range + $big_conns × 16 MiB for ${anchor_seconds}s"
  hot_start=$(now)
  hot_read_mix "${anchor_authority[$s]}" /v2/soak/hot/blobs "$scratch/hot-$s"
  start_sampler "$scratch/series-hot-$s.tsv" "${anchor_pids[$s]}" - "$hot_start"
  wait_clients
  stop_sampler
  # shellcheck disable=SC2086 # the pids are separate words
  a_hwm[$s]=$(for p in ${anchor_pids[$s]}; do status_kib VmHWM "$p"; done | awk '{ s += $1 } END { print s }')
  stop_anchor "$s"
  requests=0 bytes=0 errors=0
  for kind in small big range; do
    f=$scratch/hot-$s-$kind.txt
    requests=$((requests + $(count requests "$f")))
    bytes=$((bytes + $(count bytes "$f")))
    for k in connect read write timeout; do errors=$((errors + $(count "$k" "$f"))); done
    if [ "$kind" = range ]; then errors=$((errors + $(count unexpected "$f"))); else errors=$((errors + $(count status "$f"))); fi
  done
  duration=$(field duration_us "$scratch/hot-$s-small.txt")
  a_rps[$s]=$(calc "$requests * 1000000 / $duration")
  a_bps[$s]=$(calc "$bytes * 1000000 / $duration / 1048576")
  a_small_rps[$s]=$(calc "$(field requests "$scratch/hot-$s-small.txt") * 1000000 / $duration")
  a_small_p99[$s]=$(field p99_us "$scratch/hot-$s-small.txt")
  a_big_bps[$s]=$(calc "$(field bytes "$scratch/hot-$s-big.txt") * 1000000 / $(field duration_us "$scratch/hot-$s-big.txt") / 1048576")
  a_range_rps[$s]=$(calc "$(field requests "$scratch/hot-$s-range.txt") * 1000000 / $(field duration_us "$scratch/hot-$s-range.txt")")
  a_errors[$s]=$errors
  kv "soak_hot_rps_$s" "$(int "${a_rps[$s]}")"
  kv "soak_hot_mibs_$s" "$(int "${a_bps[$s]}")"
  kv "soak_hot_hwm_kib_$s" "${a_hwm[$s]}"
  kv "soak_hot_errors_$s" "$errors"
done

# ---------------------------------------------------------------------------------------------
# Charts.
mkdir -p "$charts"
# A chart that cannot be drawn (a column never sampled: /metrics unreachable) leaves the
# figures standing.
chart() { "$(dirname "$0")/chart.sh" "$@" > /dev/null 2>> "$scratch/chart.err" || log "not drawn: $1 (see $scratch/chart.err)"; }
awk -F'\t' '{ print $1 "\t64\t?\t?" }' "$scratch/series-mixed.tsv" > "$scratch/series-goal.tsv"
chart "$charts/soak-mixed.png" "blobcache RSS, mixed load over $connections connections" MiB 2 \
  "blobcache=$scratch/series-mixed.tsv" "goal (64 MiB)=$scratch/series-goal.tsv"
chart "$charts/soak-mixed-connections.png" "blobcache connections open, mixed load ($connections clients)" connections 5 \
  "blobcache=$scratch/series-mixed.tsv"
# docker-registry's RSS is gigabytes: on one linear scale with it the other two are flat at zero,
# so they get their own chart too.
chart "$charts/soak-rss.png" "RSS, hot reads over $connections connections" MiB 2 \
  "blobcache=$scratch/series-hot-blobcache.tsv" "nginx (master + 2 workers)=$scratch/series-hot-nginx.tsv"
chart "$charts/soak-rss-registry.png" "RSS, hot reads over $connections connections, with docker-registry" MiB 2 \
  "blobcache=$scratch/series-hot-blobcache.tsv" "nginx (master + 2 workers)=$scratch/series-hot-nginx.tsv" \
  "docker-registry=$scratch/series-hot-registry.tsv"
chart "$charts/soak-throughput.png" "Throughput received by the clients, hot reads over $connections connections" MiB/s 3 \
  "blobcache=$scratch/series-hot-blobcache.tsv" "nginx=$scratch/series-hot-nginx.tsv" \
  "docker-registry=$scratch/series-hot-registry.tsv"
log "charts in $charts"

# ---------------------------------------------------------------------------------------------
# The report section.
rate() { calc "$(field requests "$1") * 1000000 / $(field duration_us "$1")"; }
kind_row() {  # kind label connections
  local f=$scratch/mixed-$1.txt e=errors_$1 b=bad_$1
  echo "| $2 | $3 | $(field requests "$f") | $(int "$(rate "$f")") | $(ms "$(field p50_us "$f")") | $(ms "$(field p99_us "$f")") | $(field connect "$f") / $(field read "$f") / $(field write "$f") / $(field timeout "$f") / ${!b} | **${!e}** |"
}
goal() { if isnum "$1" && [ "$(calc "$1 $2")" = 1 ]; then echo "met"; else echo "**missed**"; fi; }
anchor_row() {  # label digits blobcache nginx docker-registry
  echo "| $1 | **$(fixed "$2" "$3")** | $(fixed "$2" "$4") | $(fixed "$2" "$5") | $(ratio "$3" "$4") | $(ratio "$5" "$4") |"
}
declare -A a_hwm_mib a_small_p99_ms
for s in "${anchors[@]}"; do a_hwm_mib[$s]=$(calc "${a_hwm[$s]} / 1024"); a_small_p99_ms[$s]=$(calc "${a_small_p99[$s]} / 1000"); done
cold_reused=$(field reused "$scratch/mixed-cold.txt")
upload_reused=$(field reused "$scratch/mixed-upload.txt")
{
  echo "## Soak: $(thousands "$connections") connections, mixed"
  echo
  echo "blobcache (release build, default 128 MiB memory budget, \`--upstream\` a docker-registry origin"
  echo "on this machine, \`--mirror-push\`) on a fresh data directory, under $(thousands "$connections") concurrent keep-alive"
  echo "connections for $seconds s: one wrk process per kind of request. Hot blobs (64 × 4 KiB, one 16 MiB)"
  echo "were loaded first; ranges are single ranges of 1 B–64 KiB at random offsets into the 16 MiB blob;"
  echo "cold misses ask for distinct digests blobcache lacks (64–192 KiB each), which it fills from the"
  echo "origin, paced at $cold_rate/s; uploads are monolithic \`POST …/blobs/uploads/?digest=\` of distinct"
  echo "16 KiB blobs, paced at $upload_rate/s. Errors per kind: connect / read / write / timeout / wrong status"
  echo "(ranges must answer 206, cold misses 200, uploads 201; the hot GETs count wrk's status ≥ 400)."
  echo "Latency is wrk's, from sending a request to its last byte."
  echo
  echo "| kind | connections | requests | req/s | p50, ms | p99, ms | errors c / r / w / t / status | errors (goal 0) |"
  echo "|---|---|---|---|---|---|---|---|"
  kind_row small "hot 4 KiB GET" "$small_conns"
  kind_row range "Range GET into 16 MiB" "$range_conns"
  kind_row big "hot 16 MiB GET" "$big_conns"
  kind_row cold "cold miss (filled from the origin)" "$cold_conns"
  kind_row upload "upload (monolithic POST)" "$upload_conns"
  echo "| **all** | $connections | | | | | | **$total_errors** |"
  echo
  echo "| what | blobcache | goal | |"
  echo "|---|---|---|---|"
  echo "| peak RSS (VmHWM) over the run, MiB | **$(mib "$mixed_hwm")** | ≤ 64 MiB | $(goal "$(mib "$mixed_hwm")" "<= 64") |"
  echo "| peak RSS by blobcache's own account (\`blobcache_resident_memory_peak_bytes\`), MiB | $(fixed 1 "$(calc "${peak_metric:-0} / 1048576")") | | |"
  echo "| RSS at the end of the run, MiB | $(mib "$mixed_rss_end") | | |"
  echo "| page cache of store files left resident, max sampled (the store's account), MiB | $page_cache_max | budget (\`page_cache_budget\`) 32 MiB | |"
  echo "| connections open after ramp-up (${ramp_seconds} s), min / max | **$open_min / $open_max** | $connections / $connections | $(goal "$open_min" ">= $connections") |"
  echo "| reconnects (accepted − $connections clients − the sampler's 1 − wrk's 5 address checks) | **$reconnects** | 0 | $(goal "$reconnects" "== 0") |"
  echo "| cold misses filled from the origin / fills failed / origin GETs of cold blobs | $fills_completed / $fills_failed / $origin_cold_gets | | |"
  echo "| requests beyond the prepared blobs (cold, uploads) | $cold_reused, $upload_reused | 0, 0 | |"
  echo
  echo "![blobcache RSS over the mixed run](charts/soak-mixed.png)"
  echo "![blobcache connections open over the mixed run](charts/soak-mixed-connections.png)"
  echo
  echo "### Hot reads beside nginx and docker-registry"
  echo
  echo "The hot-read part of the mix over $(thousands "$connections") connections ($hot_small_conns × 4 KiB, $range_conns × range,"
  echo "$big_conns × 16 MiB) for $anchor_seconds s against each server alone, each a fresh process: nginx with 2 workers,"
  echo "\`sendfile on\` and the same bytes as static files (RSS: master + workers), docker-registry on"
  echo "filesystem storage, and blobcache as above. Throughput is what the clients received."
  echo
  echo "| what | blobcache | nginx | docker-registry | blobcache / nginx | docker-registry / nginx |"
  echo "|---|---|---|---|---|---|"
  anchor_row "all kinds, req/s" 0 "${a_rps[blobcache]}" "${a_rps[nginx]}" "${a_rps[registry]}"
  anchor_row "all kinds, MiB/s" 0 "${a_bps[blobcache]}" "${a_bps[nginx]}" "${a_bps[registry]}"
  anchor_row "hot 4 KiB, req/s" 0 "${a_small_rps[blobcache]}" "${a_small_rps[nginx]}" "${a_small_rps[registry]}"
  anchor_row "hot 4 KiB, p99 latency, ms" 1 "${a_small_p99_ms[blobcache]}" "${a_small_p99_ms[nginx]}" "${a_small_p99_ms[registry]}"
  anchor_row "ranges, req/s" 0 "${a_range_rps[blobcache]}" "${a_range_rps[nginx]}" "${a_range_rps[registry]}"
  anchor_row "hot 16 MiB, MiB/s" 0 "${a_big_bps[blobcache]}" "${a_big_bps[nginx]}" "${a_big_bps[registry]}"
  anchor_row "peak RSS (VmHWM), MiB" 1 "${a_hwm_mib[blobcache]}" "${a_hwm_mib[nginx]}" "${a_hwm_mib[registry]}"
  echo "| errors | ${a_errors[blobcache]} | ${a_errors[nginx]} | ${a_errors[registry]} | | |"
  echo
  echo "![RSS over the hot-read runs, blobcache and nginx](charts/soak-rss.png)"
  echo "![RSS over the hot-read runs, with docker-registry](charts/soak-rss-registry.png)"
  echo "![Throughput over the hot-read runs](charts/soak-throughput.png)"
  echo
  echo "wrk $(wrk --version 2>&1 | head -n1 | awk '{ print $2 }'), $(nginx -v 2>&1 | cut -d' ' -f3), docker-registry $(/usr/bin/docker-registry --version | awk '{ print $3 }')."
  echo "The clients, the servers and the origin share the machine's $(nproc) cores over loopback; samples once a"
  echo "second (RSS from /proc, connections and requests from blobcache's /metrics, throughput from the"
  echo "clients' received bytes). Mixed run: $(printf '%.0f' "$mixed_wall") s of wall time."
} > "$scratch/soak-results.md"
log "wrote $scratch/soak-results.md"
if [ -n "$results" ]; then
  { echo; cat "$scratch/soak-results.md"; } >> "$results"
  log "appended the section to $results"
fi
