#!/usr/bin/env bash
# Sets up the toolchain if needed, then runs every check and test: formatting, clippy (native and
# wasm32), native theorem tests, browser tests (wasm-bindgen-test in headless chromium), the
# built site end to end (playwright-core + chromium), the benchmark (native, then the bench page).
# Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --check
step "clippy (native)"
cargo clippy --all-targets -- -D warnings
# Browser tests are the tests/web_*.rs files (each configures where it runs: a page with a canvas,
# or a dedicated worker); the native test files are not built for wasm32.
web_tests=()
for f in tests/web_*.rs; do
  if [ -e "$f" ]; then web_tests+=(--test "$(basename "$f" .rs)"); fi
done
step "clippy (wasm32: the library and the browser tests)"
cargo clippy --target wasm32-unknown-unknown --lib "${web_tests[@]}" -- -D warnings
step "wasm32 library build"
cargo build --target wasm32-unknown-unknown --lib
step "native tests"
cargo test
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
if [ -f bench.html ]; then
  # Figures, not pass/fail on speed: the native table, then the bench page in the browser worker
  # (which asserts that every row ran, the fast fields equal the SVD reference and the heap stays
  # flat over 10⁵ steps) with the wasm/native ratio on this machine.
  step "benchmark: native (release build)"
  mkdir -p test-artifacts
  cargo build --release --bin pullback
  ./target/release/pullback bench --only S,M,U --json test-artifacts/bench-native.json
  step "benchmark: the bench page in chromium (playwright-core)"
  BENCH_NATIVE=test-artifacts/bench-native.json node tests/e2e/bench.mjs
fi
step "all tests passed"
