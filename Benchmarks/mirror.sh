#!/usr/bin/env bash
# Pull-through mirror benchmarks: blobcache as a mirror (`--upstream`) beside docker-registry 2.8
# in proxy mode (`proxy: remoteurl`, registry:2's pull-through cache), both in front of the same
# origin (a docker-registry on this machine holding the image), and beside pulling from the
# origin directly:
#   - cold pull: `skopeo copy docker://… oci:…` of a 4-layer image of ~100 MiB of random bytes;
#   - fan-out: 32 concurrent cold GETs (curl) of its 48 MiB layer: the bytes the origin sent for
#     that layer (summed from its access log) per byte of the layer, and the wall time beside one
#     direct GET of the layer from the origin;
#   - peak RSS (VmHWM) of each mirror process during each.
# Every mirror run starts on a fresh, empty data directory (a cold cache) and a fresh process (so
# VmHWM is that run's). The origin's files are in the page cache for every run: a warm-up pull
# that is not counted reads them first.
#
# Usage: Benchmarks/mirror.sh <blobcache-binary> <scratch-dir> [results.md]
#
# Environment:
#   BENCH_MIRROR_RUNS=3       runs per figure (medians are reported)
#   BENCH_MIRROR_CLIENTS=32   concurrent clients in the fan-out
#
# Output: `key=value` lines on stdout (progress goes to stderr) and the markdown section in
# <scratch-dir>/mirror-results.md, also appended to results.md when it is given. Every process the
# script starts is stopped on exit.
set -euo pipefail

# shellcheck source=Benchmarks/common.sh
. "$(dirname "$0")/common.sh"
section_arguments "$@"
runs=${BENCH_MIRROR_RUNS:-3}
clients=${BENCH_MIRROR_CLIENTS:-32}

install_missing docker-registry:/usr/bin/docker-registry skopeo:skopeo umoci:umoci jq:jq curl:curl python3:python3 bc:bc

# ---------------------------------------------------------------------------------------------
# The image: 4 layers (48, 32, 16 and 4 MiB); layers[0], the fan-out layer, is the 48 MiB one.
image=$scratch/image
build_image "$image" 48 32 16 4
image_bytes=$(jq '([.layers[].size] | add) + .config.size' "$manifest_file")
log "image ready: $(jq '.layers | length' "$manifest_file") layers, $image_bytes bytes; fan-out layer $layer ($layer_size bytes)"

# ---------------------------------------------------------------------------------------------
# Servers.

start_origin "$scratch/origin"
skopeo --insecure-policy copy --dest-tls-verify=false "oci:$image:v1" "docker://127.0.0.1:$origin_port/bench/image:v1" > /dev/null
log "origin up on 127.0.0.1:$origin_port, image pushed"

# Only the mirror under test runs besides the origin; it is started fresh for every run.
mirror_pid=""
mirror_port=$(free_port)

# blobcache at its defaults (128 MiB memory budget), mirroring the origin for requests without ns.
start_blobcache() {
  rm -rf "$scratch/blobcache-data"
  "$blobcache_bin" serve --listen "127.0.0.1:$mirror_port" --data-dir "$scratch/blobcache-data" \
    --upstream "http://127.0.0.1:$origin_port" --log-level warn > "$scratch/blobcache.out" 2>> "$scratch/blobcache.err" &
  mirror_pid=$!
  started+=("$mirror_pid")
  wait_registry_api "127.0.0.1:$mirror_port" "$mirror_pid" blobcache
}

# docker-registry in proxy mode: the anchor registry's settings (common.sh) plus `proxy: remoteurl`.
proxy_dir=$scratch/proxy
write_registry_conf "$proxy_dir" "$mirror_port"
printf 'proxy:\n  remoteurl: http://127.0.0.1:%s\n' "$origin_port" >> "$proxy_dir/config.yml"
start_proxy() {
  rm -rf "$proxy_dir/data"
  /usr/bin/docker-registry serve "$proxy_dir/config.yml" >> "$proxy_dir/log" 2>&1 &
  mirror_pid=$!
  started+=("$mirror_pid")
  wait_registry_api "127.0.0.1:$mirror_port" "$mirror_pid" docker-registry-proxy
}

stop_mirror() {
  stop_pid "$mirror_pid"
  forget_pid "$mirror_pid"
  mirror_pid=""
}

# ---------------------------------------------------------------------------------------------
# Measurements.

# skopeo copy of the image from the registry on port $1 into a fresh layout: prints the wall
# time in seconds, after checking that every blob arrived byte for byte.
pull_seconds() {
  local port=$1 dest=$scratch/pulled start seconds
  rm -rf "$dest"
  start=$(now)
  skopeo --insecure-policy copy --src-tls-verify=false "docker://127.0.0.1:$port/bench/image:v1" "oci:$dest:v1" \
    > "$scratch/skopeo.log" 2>&1 || { log "skopeo copy from port $port failed: $(tail -n3 "$scratch/skopeo.log")"; return 1; }
  seconds=$(since "$start")
  diff -r "$image/blobs" "$dest/blobs" > /dev/null || { log "the pull from port $port differs from the image"; return 1; }
  rm -rf "$dest"
  echo "$seconds"
}


# $clients concurrent GETs of the layer from port $1 (curl, bodies discarded): prints the wall time
# in seconds, after checking that every client got 200 and the whole layer.
fanout_seconds() {
  local port=$1 url="http://127.0.0.1:$1/v2/bench/image/blobs/$layer" start seconds i pids=() bad
  start=$(now)
  for i in $(seq "$clients"); do
    curl -s --max-time 120 -o /dev/null -w '%{http_code} %{size_download}\n' "$url" > "$scratch/fanout-$i.out" &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  seconds=$(since "$start")
  bad=$(cat "$scratch"/fanout-*.out | grep -cvx "200 $layer_size" || true)
  rm -f "$scratch"/fanout-*.out
  [ "$bad" = 0 ] || { log "$bad of $clients clients on port $port did not get the whole layer"; return 1; }
  echo "$seconds"
}

# The anchor of the fan-out: one GET of the layer straight from the origin, in seconds.
direct_get_seconds() {
  local start
  start=$(now)
  curl -s -f -o /dev/null "http://127.0.0.1:$origin_port/v2/bench/image/blobs/$layer"
  since "$start"
}

# One GET of the layer from port $1, hashed: the mirror must hand back the exact bytes.
check_layer() {
  local got
  got=$(curl -sS -f "http://127.0.0.1:$1/v2/bench/image/blobs/$layer" | sha256sum | cut -d' ' -f1)
  [ "sha256:$got" = "$layer" ] || { log "port $1 served wrong bytes for the layer"; return 1; }
}

mirrors=(blobcache proxy)
for s in direct "${mirrors[@]}"; do : > "$scratch/pull.$s"; : > "$scratch/fanout.$s"; done
: > "$scratch/fanout-all.direct"
for s in "${mirrors[@]}"; do
  : > "$scratch/pull-hwm.$s"; : > "$scratch/fanout-hwm.$s"; : > "$scratch/fanout-bytes.$s"; : > "$scratch/fanout-gets.$s"
done

pull_seconds "$origin_port" > /dev/null
log "warm-up pull from the origin done"

log "cold pulls: direct, blobcache, docker-registry proxy, $runs runs"
for r in $(seq "$runs"); do
  pull_seconds "$origin_port" >> "$scratch/pull.direct"
  for s in "${mirrors[@]}"; do
    "start_$s"
    pull_seconds "$mirror_port" >> "$scratch/pull.$s"
    status_kib VmHWM "$mirror_pid" >> "$scratch/pull-hwm.$s"
    stop_mirror
  done
  log "run $r: direct $(tail -n1 "$scratch/pull.direct") s, blobcache $(tail -n1 "$scratch/pull.blobcache") s, proxy $(tail -n1 "$scratch/pull.proxy") s"
done

log "fan-out: $clients concurrent cold GETs of the $layer_size-byte layer, $runs runs"
for r in $(seq "$runs"); do
  direct_get_seconds >> "$scratch/fanout.direct"
  fanout_seconds "$origin_port" >> "$scratch/fanout-all.direct"
  for s in "${mirrors[@]}"; do
    "start_$s"
    origin_log_settled
    first_line=$(( $(wc -l < "$origin_dir/access.log") + 1 ))
    fanout_seconds "$mirror_port" >> "$scratch/fanout.$s"
    status_kib VmHWM "$mirror_pid" >> "$scratch/fanout-hwm.$s"
    origin_log_settled
    read -r bytes gets < <(origin_layer_traffic "$first_line" "/v2/bench/image/blobs/$layer")
    echo "$bytes" >> "$scratch/fanout-bytes.$s"
    echo "$gets" >> "$scratch/fanout-gets.$s"
    check_layer "$mirror_port"
    stop_mirror
  done
  log "run $r: one direct GET $(tail -n1 "$scratch/fanout.direct") s, $clients direct $(tail -n1 "$scratch/fanout-all.direct") s; blobcache $(tail -n1 "$scratch/fanout.blobcache") s, $(tail -n1 "$scratch/fanout-gets.blobcache") origin GETs; proxy $(tail -n1 "$scratch/fanout.proxy") s, $(tail -n1 "$scratch/fanout-gets.proxy") origin GETs"
done

# ---------------------------------------------------------------------------------------------
# Medians, ratios and the report section.
declare -A pull fanout pull_hwm fanout_hwm upstream gets
for s in direct "${mirrors[@]}"; do
  pull[$s]=$(median < "$scratch/pull.$s")
  fanout[$s]=$(median < "$scratch/fanout.$s")
  kv "mirror_cold_pull_seconds_$s" "$(secs "${pull[$s]}")"
  kv "mirror_fanout_seconds_$s" "$(secs "${fanout[$s]}")"
done
for s in "${mirrors[@]}"; do
  pull_hwm[$s]=$(median < "$scratch/pull-hwm.$s")
  fanout_hwm[$s]=$(median < "$scratch/fanout-hwm.$s")
  upstream[$s]=$(ratio "$(median < "$scratch/fanout-bytes.$s")" "$layer_size")
  gets[$s]=$(median < "$scratch/fanout-gets.$s")
  kv "mirror_cold_pull_hwm_kib_$s" "${pull_hwm[$s]}"
  kv "mirror_fanout_hwm_kib_$s" "${fanout_hwm[$s]}"
  kv "mirror_fanout_origin_gets_$s" "${gets[$s]}"
  kv "mirror_fanout_upstream_bytes_per_layer_byte_$s" "${upstream[$s]}"
done
fanout_all_direct=$(median < "$scratch/fanout-all.direct")
kv mirror_fanout_seconds_all_direct "$(secs "$fanout_all_direct")"
pull_ratio_blobcache=$(ratio "${pull[blobcache]}" "${pull[direct]}")
pull_ratio_proxy=$(ratio "${pull[proxy]}" "${pull[direct]}")
fanout_ratio_blobcache=$(ratio "${fanout[blobcache]}" "${fanout[direct]}")
fanout_ratio_proxy=$(ratio "${fanout[proxy]}" "${fanout[direct]}")
kv mirror_cold_pull_ratio_blobcache_vs_direct "$pull_ratio_blobcache"
kv mirror_cold_pull_ratio_proxy_vs_direct "$pull_ratio_proxy"
kv mirror_fanout_ratio_blobcache_vs_one_direct_get "$fanout_ratio_blobcache"
kv mirror_fanout_ratio_proxy_vs_one_direct_get "$fanout_ratio_proxy"

layer_mib=$(printf '%.0f' "$(calc "$layer_size / 1048576")")
image_mib=$(printf '%.0f' "$(calc "$image_bytes / 1048576")")
{
  echo "## Mirror (pull-through)"
  echo
  echo "blobcache (\`--upstream http://origin\`, default 128 MiB memory budget) beside docker-registry 2.8"
  echo "in proxy mode (\`proxy: remoteurl\`, registry:2's pull-through cache), both in front of the same"
  echo "origin: a docker-registry on this machine holding a 4-layer image of $image_mib MiB of random bytes."
  echo "Every mirror run starts on an empty data directory (a cold cache) in a fresh process; the origin's"
  echo "files are in the page cache for every run. Clients, mirrors and the origin share the machine's"
  echo "$(nproc) cores over loopback. Medians of $runs runs."
  echo
  echo "| what | direct from the origin | blobcache | docker-registry proxy | blobcache / direct | proxy / direct | goal |"
  echo "|---|---|---|---|---|---|---|"
  echo "| cold pull (\`skopeo copy docker://… oci:…\`), s | $(secs "${pull[direct]}") | $(secs "${pull[blobcache]}") | $(secs "${pull[proxy]}") | $pull_ratio_blobcache | $pull_ratio_proxy | |"
  echo "| $clients concurrent cold GETs of the $layer_mib MiB layer, s (direct: one GET) | $(secs "${fanout[direct]}") | $(secs "${fanout[blobcache]}") | $(secs "${fanout[proxy]}") | $fanout_ratio_blobcache | $fanout_ratio_proxy | |"
  echo "| the same $clients GETs straight from the origin, s | $(secs "$fanout_all_direct") | | | | | |"
  echo "| bytes the origin sent for those GETs ÷ layer size | | ${upstream[blobcache]} | ${upstream[proxy]} | | | 1.00 (single-flight) |"
  echo "| origin GETs of the layer for those GETs | | ${gets[blobcache]} | ${gets[proxy]} | | | 1 |"
  echo "| peak RSS (VmHWM) during the cold pull, MiB | | $(mib "${pull_hwm[blobcache]}") | $(mib "${pull_hwm[proxy]}") | | | |"
  echo "| peak RSS (VmHWM) during the $clients GETs, MiB | | $(mib "${fanout_hwm[blobcache]}") | $(mib "${fanout_hwm[proxy]}") | | | |"
  echo
  echo "skopeo $(skopeo --version | awk '{ print $3 }'), curl $(curl --version | awk 'NR == 1 { print $2 }'),"
  echo "docker-registry $(/usr/bin/docker-registry --version | awk '{ print $3 }'). The fan-out's origin bytes are summed"
  echo "from the origin's access log; its clients are $clients curl processes started together."
} > "$scratch/mirror-results.md"
log "wrote $scratch/mirror-results.md"
if [ -n "$results" ]; then
  { echo; cat "$scratch/mirror-results.md"; } >> "$results"
  log "appended the section to $results"
fi
