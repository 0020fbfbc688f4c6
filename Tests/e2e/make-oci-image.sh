#!/usr/bin/env bash
# Builds a small OCI image layout offline, for the end-to-end tests with real clients (skopeo,
# containerd's ctr): no registry, no network, random content so every run has fresh digests
# that no cache could already hold.
#
# Usage: Tests/e2e/make-oci-image.sh <dir>
# Result: <dir>/image, an OCI image layout with tag v1 and three layers:
#   1. /data/big.bin    3 MiB of random bytes (big enough to stream through several buffers)
#   2. /data/small.bin  4 KiB of random bytes
#   3. /etc/blobcache-e2e  a text file with the build time (a layer of a few hundred bytes)
# On stdout: the manifest digest of <dir>/image:v1, as `manifest=sha256:<hex>`.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 <dir>" >&2
  exit 2
fi
dir=$1

missing=()
command -v umoci >/dev/null || missing+=(umoci)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v jq >/dev/null || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

image=$dir/image
rm -rf "$image" "$dir/src"
mkdir -p "$dir/src"
head -c 3145728 /dev/urandom > "$dir/src/big.bin"
head -c 4096 /dev/urandom > "$dir/src/small.bin"
echo "built $(date -u +%FT%TZ) by $0" > "$dir/src/stamp"

umoci init --layout "$image"
# `umoci new` writes an empty image whose config names this machine's os/architecture, which
# is what ctr selects by default when it pulls.
umoci new --image "$image:v1"
# Each insert is one new layer, so the layer count is exact, without unpacking a rootfs.
umoci insert --image "$image:v1" "$dir/src/big.bin" /data/big.bin
umoci insert --image "$image:v1" "$dir/src/small.bin" /data/small.bin
umoci insert --image "$image:v1" "$dir/src/stamp" /etc/blobcache-e2e
umoci config --image "$image:v1" --config.cmd /bin/true
# umoci leaves blobs of superseded manifests and configs behind; drop them so the layout holds
# exactly what v1 references, and a blob-by-blob comparison after a round trip is meaningful.
umoci gc --layout "$image"
rm -rf "$dir/src"

manifest=$(jq -r '.manifests[] | select(.annotations."org.opencontainers.image.ref.name" == "v1") | .digest' "$image/index.json")
layers=$(jq '.layers | length' "$image/blobs/sha256/${manifest#sha256:}")
[ "$layers" -ge 2 ] || { echo "expected at least 2 layers, got $layers" >&2; exit 1; }
echo "manifest=$manifest"
