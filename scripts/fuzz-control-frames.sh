#!/usr/bin/env bash
# Fuzzes the control-frame decoder (and the payload validators behind it) with libFuzzer + AddressSanitizer
# for a bounded time. Not part of CI.
#
#   scripts/fuzz-control-frames.sh [seconds, default 60]
#
# Corpus and crash artifacts go to fuzz-control-frames/ (git-ignored). Reproduce a crash in a normal build with
#   swift build --product ControlFrameFuzz && .build/debug/ControlFrameFuzz fuzz-control-frames/artifacts/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-60}"
WORK="fuzz-control-frames"
mkdir -p "$WORK/corpus" "$WORK/artifacts"

# 1. Seed corpus: valid signed frames of every known type, written by the replay build.
swift build --product ControlFrameFuzz
"$(swift build --show-bin-path)/ControlFrameFuzz" --write-seeds "$WORK/corpus"

# 2. Instrumented build in its own scratch directory (never mixes with the normal .build). SwiftPM's
#    --sanitize=fuzzer links libFuzzer but (Swift 6.3, Linux) does not add coverage instrumentation to the Swift
#    modules (only the link gets it), so libFuzzer would run blind: pass it to every Swift compile too.
FLAGS=(--scratch-path .build-fuzz --sanitize=fuzzer --sanitize=address
    -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address)
swift build "${FLAGS[@]}" --product ControlFrameFuzz 2>&1 | grep -v "ld.gold: warning: Cannot export local symbol" || true
BIN="$(swift build "${FLAGS[@]}" --show-bin-path)/ControlFrameFuzz"
test -x "$BIN"

# 3. Bounded run. libFuzzer exits non-zero and leaves a crash-* file in artifacts/ if it finds anything.
set +e
"$BIN" "$WORK/corpus" -max_total_time="$DURATION" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$WORK/artifacts/" -print_final_stats=1
STATUS=$?
set -e
echo "corpus: $(ls "$WORK/corpus" | wc -l) inputs; artifacts: $(ls "$WORK/artifacts" | wc -l)"
exit $STATUS
