#!/usr/bin/env bash
# make bench: each measurement runs beside its anchor in the same run, on the same machine,
# the same bytes and the same filesystem, and Benchmarks/RESULTS.md is written from the figures.
# Scratch data lives in Benchmarks/scratch (ignored by git) and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bench=.build/release/blobcache-bench
scratch=Benchmarks/scratch
results=Benchmarks/RESULTS.md
runs=${BENCH_RUNS:-3}
restart_counts=${BENCH_RESTART_COUNTS:-"100000 1000000"}
rm -rf "$scratch"
mkdir -p "$scratch"
trap 'rm -rf "$scratch"' EXIT

value() { grep "^$1=" | tail -n1 | cut -d= -f2; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc -l; }
ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }
fmt() { printf '%.3f' "$1"; }
# Dropping the page cache makes "cold" mean cold; without the right to do so, runs are warm.
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || echo "warm" > "$scratch/cache-not-dropped"; }

echo "== ingest: 512 MiB, verified and durable, beside openssl dgst and dd conv=fsync"
head -c 512M /dev/urandom > "$scratch/ingest.bin"
cat "$scratch/ingest.bin" > /dev/null
: > "$scratch/openssl"; : > "$scratch/dd"; : > "$scratch/ours"
for _ in $(seq "$runs"); do
  seconds openssl dgst -sha256 "$scratch/ingest.bin" >> "$scratch/openssl"
  rm -f "$scratch/dd.out"
  seconds dd if="$scratch/ingest.bin" of="$scratch/dd.out" bs=1M conv=fsync >> "$scratch/dd"
  rm -f "$scratch/dd.out"
  "$bench" ingest "$scratch/ingest-store" "$scratch/ingest.bin" > "$scratch/ingest.out"
  value ingest_seconds < "$scratch/ingest.out" >> "$scratch/ours"
done
openssl_s=$(median < "$scratch/openssl"); dd_s=$(median < "$scratch/dd"); ours_s=$(median < "$scratch/ours")
slower=$(echo "if ($openssl_s > $dd_s) $openssl_s else $dd_s" | bc -l)
ingest_ratio=$(ratio "$ours_s" "$slower")
ingest_rss=$(value ingest_peak_rss < "$scratch/ingest.out")
rm -f "$scratch/ingest.bin"
echo "ingest ${ours_s}s, openssl ${openssl_s}s, dd ${dd_s}s: ${ingest_ratio}x the slower"

echo "== index: RSS per indexed blob at 1,000,000 entries"
"$bench" index-rss 1000000 > "$scratch/index.out"
index_per_entry=$(value index_rss_bytes_per_entry < "$scratch/index.out")
index_at_cap=$(value index_bytes_per_entry_at_cap < "$scratch/index.out")
echo "index: ${index_per_entry} bytes of RSS per entry"

echo "== restart: time to ready from snapshot + journal, beside a full directory rescan"
restart_rows=""
for count in $restart_counts; do
  dir="$scratch/restart-$count"
  "$bench" populate "$dir" "$count" > /dev/null
  drop_caches
  rescan_cold=$("$bench" rescan "$dir" "$count" | value rescan_seconds)
  drop_caches
  "$bench" restart "$dir" "$count" > "$scratch/restart.out"
  restart_cold=$(value restart_seconds < "$scratch/restart.out")
  snapshot_s=$(value snapshot_seconds < "$scratch/restart.out")
  : > "$scratch/restart-warm"
  for _ in $(seq "$runs"); do "$bench" restart "$dir" "$count" | value restart_seconds >> "$scratch/restart-warm"; done
  restart_warm=$(median < "$scratch/restart-warm")
  rm -f "$dir/index/snapshot" "$dir/index/journal"
  rescan_warm=$("$bench" rescan "$dir" "$count" | value rescan_seconds)
  restart_rows+="| $count | $(fmt "$restart_cold") s | $(fmt "$restart_warm") s | $(fmt "$rescan_cold") s | $(fmt "$rescan_warm") s | $(ratio "$restart_cold" "$rescan_cold")× | $(fmt "$snapshot_s") s |"$'\n'
  echo "$count blobs: restart cold ${restart_cold}s warm ${restart_warm}s; rescan cold ${rescan_cold}s warm ${rescan_warm}s"
  rm -rf "$dir"
done

echo "== page cache: 256 MiB of blobs read twice with a 32 MiB budget, beside plain reads"
"$bench" pagecache "$scratch/pagecache" 256 32 > "$scratch/pagecache.out"
resident() { find "$1" -type f -print0 | xargs -0 fincore -b -n -o RES | awk '{ s += $1 } END { printf "%d\n", s }'; }
ours_resident=$(resident "$scratch/pagecache/blobs")
find "$scratch/pagecache/blobs" -type f -exec cat {} + > /dev/null
find "$scratch/pagecache/blobs" -type f -exec cat {} + > /dev/null
plain_resident=$(resident "$scratch/pagecache/blobs")
mib() { echo "scale=1; $1 / 1048576" | bc -l; }
echo "resident: ours $(mib "$ours_resident") MiB, plain reads $(mib "$plain_resident") MiB"

echo "== HTTP: blobcache beside nginx and docker-registry (wrk)"
Benchmarks/http.sh .build/release/blobcache "$scratch/http" > "$scratch/http.out"
cat "$scratch/http.out"

cache_note="Cold runs follow \`echo 3 > /proc/sys/vm/drop_caches\`."
[ -f "$scratch/cache-not-dropped" ] && cache_note="The page cache could not be dropped here, so \"cold\" runs were warm."

{
  echo "# Benchmark results"
  echo
  echo "Written by \`make bench\` (Benchmarks/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'). Each figure"
  echo "stands beside its anchor, measured in the same run on the same machine, bytes and"
  echo "filesystem. These machines are shared and noisy: read the ratios, not the absolute times."
  echo "Medians of $runs runs where a figure was repeated."
  echo
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
  echo "$(free -g | awk '/Mem:/ { print $2 }') GiB memory, Linux $(uname -r), data on $(findmnt -n -o FSTYPE -T .)."
  echo "OpenSSL: $(openssl version | cut -d' ' -f1-2)."
  echo
  echo "## Store (BlobStore)"
  echo
  echo "### Verified, durable ingest of 512 MiB"
  echo
  echo "The goal is at most 1.3× the slower of hashing the bytes and writing them durably."
  echo
  echo "| what | time | vs the slower anchor |"
  echo "|---|---|---|"
  echo "| \`openssl dgst -sha256\` (anchor: hashing) | $(fmt "$openssl_s") s | |"
  echo "| \`dd bs=1M conv=fsync\` (anchor: durable write) | $(fmt "$dd_s") s | |"
  echo "| **blobcache** BlobWriter: SHA-256, write, fsync, link, directory fsync | **$(fmt "$ours_s") s** | **${ingest_ratio}×** |"
  echo
  echo "Peak RSS of the ingesting process: $(mib "$ingest_rss") MiB. The writer starts writeback"
  echo "every 8 MiB and drops the pages behind it, so the disk writes while the next chunk is hashed."
  echo
  echo "### Index memory"
  echo
  echo "| entries | RSS per indexed blob | entry layout + hash-table share |"
  echo "|---|---|---|"
  echo "| 1,000,000 | $(printf '%.1f' "$index_per_entry") bytes | $index_at_cap bytes (64-byte entry, asserted in a test) |"
  echo
  echo "### Restart: time until the store is ready"
  echo
  echo "Ready means the index is loaded from its snapshot and journal; reconciliation with the"
  echo "directory then runs in the background. The rescan column is the alternative: rebuilding the"
  echo "index by walking every file. $cache_note The snapshot is written at close and when the"
  echo "journal grows long, with the store's lock held for the time shown: reads and commits wait that long."
  echo
  echo "| blobs | restart, cold | restart, warm | full rescan, cold | full rescan, warm | restart / rescan (cold) | snapshot write |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$restart_rows"
  echo
  echo "### Page cache held by store files"
  echo
  echo "256 MiB of 8 MiB blobs, each read through the store twice with \`page_cache_budget\` = 32 MiB,"
  echo "then the same files read twice with plain \`cat\`. Resident bytes measured with \`fincore\`."
  echo
  echo "| reader | resident page cache |"
  echo "|---|---|"
  echo "| **blobcache** (budget 32 MiB) | **$(mib "$ours_resident") MiB** |"
  echo "| plain reads, no budget (anchor) | $(mib "$plain_resident") MiB |"
  echo
  echo "## Server (BlobServer over HTTP)"
  echo
  echo "wrk on the same machine as the servers (2 cores shared by client and server). nginx runs"
  echo "2 workers with \`sendfile on\`, serving the same bytes as static files; docker-registry runs"
  echo "standalone on filesystem storage. Medians of alternating runs."
  echo
  cat "$scratch/http/http-results.md"
} > "$results"
echo "wrote $results"
Benchmarks/mirror.sh .build/release/blobcache "$scratch/mirror" "$results"
Benchmarks/peers.sh .build/release/blobcache "$scratch/peers" "$results"
Benchmarks/pagecache.sh .build/release/blobcache "$scratch/pagecache" "$results"
Benchmarks/soak.sh .build/release/blobcache "$scratch/soak" "$results"
