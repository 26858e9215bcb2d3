#!/usr/bin/env bash
# Builds the wasm module into www/pkg (git-ignored) and assembles the static site in dist/.
# dist/ uses relative paths only: it works from any static host, at any sub-path, or from
# 127.0.0.1. Every asset but the HTML pages carries a content hash in its name
# (scripts/hash-assets.mjs), so a host may cache them for ever.
# `./build.sh --no-wasm` reassembles dist/ from the www/pkg of the last build (the page's own
# files changed, the Rust did not).
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
if [ "${1:-}" != "--no-wasm" ] || [ ! -f www/pkg/pullback_bg.wasm ]; then
  wasm-pack build --target web --release --out-dir www/pkg --no-typescript --no-pack
fi
rm -rf dist
mkdir -p dist/www/pkg dist/www/js
cp index.html dist/
cp www/worker.js www/style.css dist/www/
# The page's ES modules (main.js and what it imports; the workers import js/testing.js).
cp www/js/*.js dist/www/js/
cp www/pkg/pullback.js www/pkg/pullback_bg.wasm dist/www/pkg/
cp bench.html dist/
cp www/bench.js www/bench-worker.js dist/www/
node scripts/hash-assets.mjs dist
wasm=$(ls dist/www/pkg/pullback_bg.*.wasm)
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
echo "built dist/ ($(du -sh dist | cut -f1)); wasm ${raw} bytes raw, ${gz} bytes gzip -9" >&2
