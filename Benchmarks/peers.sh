#!/usr/bin/env bash
# Peers benchmark: a cluster of blobcache nodes on loopback, all pulling one large layer at once.
#   - $BENCH_PEER_NODES nodes (default 32) on 127.0.0.2, .3, …, every one on the same port, with a
#     static `--peers` list of all of them, fresh data directories and the same `--upstream`: an
#     origin docker-registry on this machine holding an image with one layer of $BENCH_PEER_MIB MiB
#     (default 256) of random bytes;
#   - every node is asked for the layer at once, one curl per node to its own node;
#   - the anchor, in the same run: as many concurrent curls of the layer straight from the origin.
# Reported: the bytes the origin sent for the layer ÷ its size (from the origin's access log; the
# goal is 1.0: one upstream fetch for the whole cluster), the wall times, the largest
# `blobcache_peer_sends_peak` over the nodes (most concurrent peer transfers of one blob a node ran),
# the peer requests the nodes answered by outcome, and per-node peak RSS (VmHWM, max and median).
# Every body is hashed (openssl) as it arrives and checked against the layer's digest, directly
# from the origin too, so both sides pay the same client cost.
#
# Usage: Benchmarks/peers.sh <blobcache-binary> <scratch-dir> [results.md]
#
# Environment:
#   BENCH_PEER_NODES=32   nodes in the cluster (and concurrent clients); at most 250
#   BENCH_PEER_MIB=256    size of the layer
#
# Output: `key=value` lines on stdout (progress goes to stderr) and the markdown section in
# <scratch-dir>/peers-results.md, also appended to results.md when it is given. Every process the
# script starts is stopped on exit.
set -euo pipefail

# shellcheck source=Benchmarks/common.sh
. "$(dirname "$0")/common.sh"
section_arguments "$@"
nodes=${BENCH_PEER_NODES:-32}
layer_mib=${BENCH_PEER_MIB:-256}
if ! [[ $nodes =~ ^[0-9]+$ ]] || [ "$nodes" -lt 2 ] || [ "$nodes" -gt 250 ]; then
  echo "BENCH_PEER_NODES must be 2-250" >&2
  exit 2
fi

install_missing docker-registry:/usr/bin/docker-registry skopeo:skopeo umoci:umoci jq:jq curl:curl openssl:openssl python3:python3 bc:bc

cluster_dir=$scratch/peers-cluster
# A copy of the layer per node: gigabytes at the defaults.
after_cleanup() { rm -rf "$cluster_dir"; }

maximum() { sort -g | tail -n1; }

# ---------------------------------------------------------------------------------------------
# The image: one layer of $layer_mib MiB.
image=$scratch/peers-image
build_image "$image" "$layer_mib"
layer_path=/v2/bench/peers/blobs/$layer
log "image ready: layer $layer ($layer_size bytes)"

# ---------------------------------------------------------------------------------------------
# The origin (common.sh), holding the image.
start_origin "$scratch/peers-origin"
skopeo --insecure-policy copy --dest-tls-verify=false "oci:$image:v1" "docker://127.0.0.1:$origin_port/bench/peers:v1" > /dev/null
rm -rf "$image"
log "origin up on 127.0.0.1:$origin_port, image pushed"

# ---------------------------------------------------------------------------------------------
# The cluster: node i on 127.0.0.(i+1):$port, one port free on every one of those addresses.
hosts=()
for i in $(seq "$nodes"); do hosts+=("127.0.0.$((i + 1))"); done
port=$(python3 - "${hosts[@]}" <<'EOF'
import socket, sys
for _ in range(20):
    first = socket.socket(); first.bind((sys.argv[1], 0)); port = first.getsockname()[1]
    held = [first]
    try:
        for host in sys.argv[2:]:
            s = socket.socket(); held.append(s); s.bind((host, port))
    except OSError:
        continue
    finally:
        for s in held: s.close()
    print(port); break
else:
    sys.exit("no port free on every node address")
EOF
)
peer_list=$(printf "%s:$port," "${hosts[@]}")
peer_list=${peer_list%,}
rm -rf "$cluster_dir"
mkdir -p "$cluster_dir"
node_pids=()
for host in "${hosts[@]}"; do
  "$blobcache_bin" serve --listen "$host:$port" --data-dir "$cluster_dir/$host" \
    --upstream "http://127.0.0.1:$origin_port" --peers "$peer_list" --log-level warn \
    > "$cluster_dir/$host.out" 2> "$cluster_dir/$host.err" &
  node_pids+=($!)
  started+=($!)
done
for i in "${!hosts[@]}"; do wait_registry_api "${hosts[$i]}:$port" "${node_pids[$i]}" "node ${hosts[$i]}"; done

metric() {  # metric <host> <series as the page writes it>: its value, 0 when absent
  curl -s "http://$1:$port/metrics" | awk -v series="$2" 'index($0, series " ") == 1 { print $2; found = 1 } END { if (!found) print 0 }'
}
for host in "${hosts[@]}"; do
  members=$(metric "$host" blobcache_peer_members)
  [ "$members" = "$((nodes - 1))" ] || { log "node $host knows $members peers, not $((nodes - 1))"; exit 1; }
done
log "$nodes nodes up on port $port, each knowing the other $((nodes - 1))"

# ---------------------------------------------------------------------------------------------
# Measurements.


# One concurrent GET of the layer from each authority given, each body hashed as it arrives:
# prints the wall time in seconds, after checking that every client got the layer's exact bytes.
pull_all_seconds() {
  local start seconds i=0 authority pids=() bad
  rm -f "$scratch"/peers-pull-*.sha
  start=$(now)
  for authority in "$@"; do
    i=$((i + 1))
    ( set -o pipefail
      curl -sS -f --max-time 600 "http://$authority$layer_path" | openssl dgst -sha256 -r | cut -d' ' -f1 > "$scratch/peers-pull-$i.sha"
    ) 2> "$scratch/peers-pull-$i.err" &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  seconds=$(since "$start")
  bad=0
  for i in $(seq "$#"); do
    [ "sha256:$(cat "$scratch/peers-pull-$i.sha" 2>/dev/null)" = "$layer" ] || { bad=$((bad + 1)); log "client $i: $(cat "$scratch/peers-pull-$i.err")"; }
  done
  rm -f "$scratch"/peers-pull-*.sha "$scratch"/peers-pull-*.err
  [ "$bad" = 0 ] || { log "$bad of $# clients did not get the layer's bytes"; return 1; }
  echo "$seconds"
}

# The origin's files into the page cache, so neither side reads them from disk.
curl -s -f -o /dev/null "http://127.0.0.1:$origin_port$layer_path"

origin_authorities=()
for _ in "${hosts[@]}"; do origin_authorities+=("127.0.0.1:$origin_port"); done
direct_seconds=$(pull_all_seconds "${origin_authorities[@]}")
log "$nodes concurrent GETs straight from the origin: $(secs "$direct_seconds") s"

origin_log_settled
first_line=$(( $(wc -l < "$origin_dir/access.log") + 1 ))
node_authorities=()
for host in "${hosts[@]}"; do node_authorities+=("$host:$port"); done
cluster_seconds=$(pull_all_seconds "${node_authorities[@]}")
origin_log_settled
read -r upstream_bytes upstream_gets < <(origin_layer_traffic "$first_line" "$layer_path")
log "$nodes nodes each pulling from their own node: $(secs "$cluster_seconds") s, $upstream_gets origin GETs, $upstream_bytes bytes"

: > "$scratch/peers-hwm"
: > "$scratch/peers-sends-peak"
declare -A answered=([served]=0 [redirected]=0 [busy]=0 [refused]=0)
for i in "${!hosts[@]}"; do
  status_kib VmHWM "${node_pids[$i]}" >> "$scratch/peers-hwm"
  metric "${hosts[$i]}" blobcache_peer_sends_peak >> "$scratch/peers-sends-peak"
  for outcome in "${!answered[@]}"; do
    value=$(metric "${hosts[$i]}" "blobcache_peer_requests_total{outcome=\"$outcome\"}")
    answered[$outcome]=$(calc "${answered[$outcome]} + $value")
  done
done
hwm_max=$(maximum < "$scratch/peers-hwm")
hwm_median=$(median < "$scratch/peers-hwm")
sends_peak=$(maximum < "$scratch/peers-sends-peak")
upstream_ratio=$(ratio "$upstream_bytes" "$layer_size")
speedup=$(ratio "$direct_seconds" "$cluster_seconds")

kv peers_nodes "$nodes"
kv peers_layer_bytes "$layer_size"
kv peers_upstream_gets "$upstream_gets"
kv peers_upstream_bytes_per_layer_byte "$upstream_ratio"
kv peers_cluster_pull_seconds "$(secs "$cluster_seconds")"
kv peers_direct_pull_seconds "$(secs "$direct_seconds")"
kv peers_direct_vs_cluster_ratio "$speedup"
kv peers_sends_peak_max "$sends_peak"
for outcome in served redirected busy refused; do kv "peers_requests_$outcome" "$(printf '%.0f' "${answered[$outcome]}")"; done
kv peers_node_hwm_kib_max "$hwm_max"
kv peers_node_hwm_kib_median "$hwm_median"

{
  echo "## Peers ($nodes nodes on loopback)"
  echo
  echo "$nodes blobcache nodes (default 128 MiB memory budget each) on 127.0.0.2-$((nodes + 1)), one port, a static"
  echo "\`--peers\` list of all of them, empty data directories, and the same origin as \`--upstream\`: a"
  echo "docker-registry on this machine holding a layer of $layer_mib MiB of random bytes. All $nodes nodes are"
  echo "asked for the layer at once, one curl per node to its own node; the anchor is as many concurrent curls"
  echo "straight from the origin in the same run. Every body is hashed (openssl) as it arrives and checked."
  echo "Nodes, clients and the origin share the machine's $(nproc) cores over loopback. One run."
  echo
  echo "| what | value | goal |"
  echo "|---|---|---|"
  echo "| bytes the origin sent for the layer ÷ layer size | $upstream_ratio | 1.00 (one fetch for the cluster) |"
  echo "| origin GETs of the layer | $upstream_gets | 1 |"
  echo "| $nodes pulls through the cluster, each from its own node, s | $(secs "$cluster_seconds") | |"
  echo "| $nodes concurrent pulls straight from the origin, s | $(secs "$direct_seconds") | |"
  echo "| origin time ÷ cluster time | $speedup | |"
  echo "| largest \`blobcache_peer_sends_peak\` over the nodes | $sends_peak | ≤ peer fan-out (8) |"
  echo "| peer requests answered: served / redirected / busy / refused | $(printf '%.0f' "${answered[served]}") / $(printf '%.0f' "${answered[redirected]}") / $(printf '%.0f' "${answered[busy]}") / $(printf '%.0f' "${answered[refused]}") | |"
  echo "| peak RSS (VmHWM) per node, max / median, MiB | $(mib "$hwm_max") / $(mib "$hwm_median") | |"
  echo
  echo "On one machine the cluster's time includes every node's own copy — $nodes × $layer_mib MiB written,"
  echo "hashed and fsynced on one disk and $(nproc) cores, and each byte crossing loopback twice (peer to node,"
  echo "node to client) — which on a real cluster each node does in parallel on its own disk and cores; the"
  echo "direct pulls store nothing. The figure that carries over is the origin's: one fetch per cluster."
  echo
  echo "curl $(curl --version | awk 'NR == 1 { print $2 }'), docker-registry $(/usr/bin/docker-registry --version | awk '{ print $3 }')."
  echo "The origin's bytes are summed from its access log over the cluster's pulls."
} > "$scratch/peers-results.md"
log "wrote $scratch/peers-results.md"
if [ -n "$results" ]; then
  { echo; cat "$scratch/peers-results.md"; } >> "$results"
  log "appended the section to $results"
fi
