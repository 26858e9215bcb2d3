#!/usr/bin/env bash
# Builds the wasm module into www/pkg (git-ignored) and assembles the static site in dist/.
# dist/ uses relative paths only: it works from any static host or from 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
wasm-pack build --target web --release --out-dir www/pkg --no-typescript --no-pack
rm -rf dist
mkdir -p dist/www
cp index.html dist/
cp -r www/* dist/www/
[ -f bench.html ] && cp bench.html dist/
rm -f dist/www/pkg/.gitignore
echo "built dist/ ($(du -sh dist | cut -f1)); wasm $(stat -c %s dist/www/pkg/pullback_bg.wasm) bytes" >&2
