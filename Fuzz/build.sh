#!/usr/bin/env bash
# Builds a libFuzzer target with AddressSanitizer and runs it on its committed seeds.
#   Fuzz/build.sh TARGET [SECONDS]      (default 60 seconds)
# A target is a directory of Fuzz/ holding main.swift, a corpus/ of seeds and, optionally, a
# libFuzzer `dictionary`. The BlobStore and BlobServer modules are built once by SwiftPM into
# .build-fuzz/modules, instrumented for the fuzzer and with testing enabled; each harness is
# compiled alone and linked with their object files, so it may `@testable import BlobServer`
# without listing the sources it needs. New inputs go to .build-fuzz/TARGET/corpus; crashes to
# .build-fuzz/TARGET/artifacts. Exit status is non-zero when the fuzzer finds a crash.
set -euo pipefail

target=${1:?usage: Fuzz/build.sh TARGET [SECONDS]}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
harness=$root/Fuzz/$target
if [[ ! -f $harness/main.swift ]]; then
    echo "unknown fuzz target: $target (no Fuzz/$target/main.swift)" >&2
    exit 2
fi

# Release, as the server ships, and because unoptimised Swift would cut the executions per second.
# Unchanged sources make this a no-op of about a second.
modules=$root/.build-fuzz/modules
swift build --package-path "$root" --scratch-path "$modules" -c release --target BlobServer \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing -Xswiftc -g
objects=$modules/release

out=$root/.build-fuzz/$target
mkdir -p "$out/corpus" "$out/artifacts"
# -assert-config Debug keeps a failed check's message, which -O alone drops from the report.
swiftc -O -assert-config Debug -g -swift-version 6 -parse-as-library -sanitize=fuzzer,address -use-ld=lld \
    -module-name "${target}Fuzz" -o "$out/fuzzer" "$harness/main.swift" \
    -I "$objects/Modules" \
    -Xcc -fmodule-map-file="$objects/CBlobSys.build/module.modulemap" \
    -Xcc -fmodule-map-file="$root/Sources/COpenSSL/module.modulemap" \
    "$objects"/BlobServer.build/*.o "$objects"/BlobStore.build/*.o "$objects"/CBlobSys.build/*.o

# The longest input worth trying: past the HTTP parsers' 8 KiB line limit, and well inside
# what the other parsers are given in practice.
case $target in
HTTPRequestParser | UpstreamResponse | ConfigurationLoader) max_len=12000 ;;
*) max_len=4096 ;;
esac
options=(-max_total_time="$seconds" -max_len="$max_len" -artifact_prefix="$out/artifacts/" -print_final_stats=1)
if [[ -f $harness/dictionary ]]; then options+=(-dict="$harness/dictionary"); fi

# The committed seeds are read, never written. Swift's backtracer would wait on a crash
# that libFuzzer already reports, so it is off.
SWIFT_BACKTRACE=enable=no "$out/fuzzer" "$out/corpus" "$harness/corpus" "${options[@]}"
