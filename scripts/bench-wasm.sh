#!/usr/bin/env bash
# Builds the wasm module for node twice — with and without simd128 — into target/bench-wasm/ and
# runs the benchmark in each, for the SIMD comparison and the wasm/native ratio.
# Usage: scripts/bench-wasm.sh [CONFIG_JSON]   e.g. '{"only":["S","M"]}'
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
config="${1:-{\}}"
for variant in simd nosimd; do
  flags="-C target-feature=+simd128"
  [ "$variant" = nosimd ] && flags="-C target-feature=-simd128"
  # A separate target dir per variant: the flags differ, and neither disturbs the page's build.
  RUSTFLAGS="$flags" CARGO_TARGET_DIR="target/bench-wasm/$variant-target" \
    wasm-pack build --target nodejs --release --out-dir "target/bench-wasm/$variant" \
      --no-typescript --no-pack >&2
  echo "== wasm32 ($variant) =="
  BENCH_JSON="target/bench-wasm/$variant.json" node scripts/bench-wasm.mjs "target/bench-wasm/$variant" "$config"
done
