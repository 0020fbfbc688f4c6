#!/usr/bin/env bash
# Builds a libFuzzer target with AddressSanitizer and runs it on its committed seeds.
#   Fuzz/build.sh TARGET [SECONDS]      (default 60 seconds)
# The target's main.swift is compiled together with the sources it tests, because a
# SwiftPM module cannot be linked into a libFuzzer binary simply. New inputs go to
# .build-fuzz/TARGET/corpus; crashes to .build-fuzz/TARGET/artifacts. Exit status is
# non-zero when the fuzzer finds a crash.
set -euo pipefail

target=${1:?usage: Fuzz/build.sh TARGET [SECONDS]}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)

case $target in
HTTPRequestParser)
    sources=(
        Sources/BlobServer/HTTP/HTTPParseSyntax.swift
        Sources/BlobServer/HTTP/HTTPParseError.swift
        Sources/BlobServer/HTTP/HTTPMethod.swift
        Sources/BlobServer/HTTP/HTTPRequestHead.swift
        Sources/BlobServer/HTTP/HTTPHeaderFields.swift
        Sources/BlobServer/HTTP/HTTPHeaderLine.swift
        Sources/BlobServer/HTTP/HTTPRequestLine.swift
        Sources/BlobServer/HTTP/HTTPRequestHeadFacts.swift
        Sources/BlobServer/HTTP/HTTPRequestParser.swift
        Sources/BlobServer/HTTP/ChunkedBodyDecoder.swift
        Sources/BlobServer/HTTP/ChunkedBodyError.swift
    )
    ;;
*)
    echo "unknown fuzz target: $target" >&2
    exit 2
    ;;
esac

out=$root/.build-fuzz/$target
mkdir -p "$out/corpus" "$out/artifacts"
swiftc -O -g -swift-version 6 -parse-as-library -sanitize=fuzzer,address -use-ld=lld \
    -module-name "${target}Fuzz" -o "$out/fuzzer" \
    "$root/Fuzz/$target/main.swift" "${sources[@]/#/$root/}"

# The committed seeds are read, never written. Swift's backtracer would wait on a crash
# that libFuzzer already reports, so it is off. max_len reaches past the 8 KiB line limit.
SWIFT_BACKTRACE=enable=no "$out/fuzzer" "$out/corpus" "$root/Fuzz/$target/corpus" \
    -max_total_time="$seconds" -max_len=12000 -artifact_prefix="$out/artifacts/" -print_final_stats=1
