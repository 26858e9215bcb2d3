#!/usr/bin/env bash
# Builds the wasm module into www/pkg (git-ignored) and assembles the static site in dist/.
# dist/ uses relative paths only: it works from any static host or from 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
wasm-pack build --target web --release --out-dir www/pkg --no-typescript --no-pack
rm -rf dist
mkdir -p dist/www/pkg dist/www/js
cp index.html dist/
cp www/worker.js www/style.css dist/www/
# The page's ES modules (main.js and what it imports; the workers import js/testing.js).
cp www/js/*.js dist/www/js/
cp www/pkg/pullback.js www/pkg/pullback_bg.wasm dist/www/pkg/
cp bench.html dist/
cp www/bench.js www/bench-worker.js dist/www/
raw=$(stat -c %s dist/www/pkg/pullback_bg.wasm)
gz=$(gzip -9 -c dist/www/pkg/pullback_bg.wasm | wc -c)
echo "built dist/ ($(du -sh dist | cut -f1)); wasm ${raw} bytes raw, ${gz} bytes gzip -9" >&2
