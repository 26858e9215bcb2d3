#!/usr/bin/env bash
# Sets up the toolchain if needed, then runs every check and test: formatting, clippy (native and
# wasm32), native theorem tests, browser tests (wasm-bindgen-test in headless chromium), the
# built site end to end (playwright-core + chromium). Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --check
step "clippy (native)"
cargo clippy --all-targets -- -D warnings
step "clippy (wasm32)"
cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings
step "wasm32 library build"
cargo build --target wasm32-unknown-unknown --lib
step "native tests"
cargo test
# Browser tests are the tests/web_*.rs files (each configures where it runs: a page with a canvas,
# or a dedicated worker); the native test files are not built for wasm32.
web_tests=()
for f in tests/web_*.rs; do
  if [ -e "$f" ]; then web_tests+=(--test "$(basename "$f" .rs)"); fi
done
if [ ${#web_tests[@]} -gt 0 ]; then
  step "browser tests (wasm-pack test --headless --chrome: ${web_tests[*]})"
  CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver -- "${web_tests[@]}"
fi
if [ -d tests/e2e ]; then
  step "build the site"
  ./build.sh
  step "end-to-end tests (playwright-core, chromium)"
  node tests/e2e/run.mjs
fi
step "all tests passed"
