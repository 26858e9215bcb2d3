#!/usr/bin/env bash
# Sets up the toolchain if needed, then runs every check and test: formatting, clippy (native and
# wasm32), native theorem tests, browser tests (wasm-bindgen-test in headless Chromium, Firefox ESR
# and WebKitGTK), the built site end to end (playwright-core + chromium), a smoke test of the built
# site in the three engines, the benchmark (native, then the bench page). Stops at the first failure.
set -euo pipefail
# A full run runs everything: the filters of single e2e tests and of the bench page do not leak in
# from the caller's shell.
unset E2E_ONLY BENCH_HASH
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
# Every target, because `wasm-pack test` builds every test and the binary for wasm32 too (the CLI
# and the native-only tests compile to nothing there, but they must compile).
step "clippy (wasm32: the library, the binary and every test)"
cargo clippy --target wasm32-unknown-unknown --all-targets -- -D warnings
step "wasm32 library build"
cargo build --target wasm32-unknown-unknown --lib
step "native tests"
cargo test
if [ ${#web_tests[@]} -gt 0 ]; then
  # The same browser tests in three engines. wasm-pack test builds with the dev profile, then runs
  # `cargo test` with the test profile; Cargo.toml gives them different settings, so every call
  # compiled the library twice. Giving dev the test profile's settings (opt-level 3, debug 1) for
  # these calls makes one build that the three engines share.
  # The drivers are named explicitly: Debian's chromedriver, geckodriver from cargo (webdriver.json
  # names /usr/bin/firefox-esr), and for --safari WebKitGTK's WebKitWebDriver (linked as
  # safaridriver by setup.sh), which starts MiniBrowser and needs an X display, hence xvfb-run.
  as_test=(env CARGO_PROFILE_DEV_OPT_LEVEL=3 CARGO_PROFILE_DEV_DEBUG=1)
  step "browser tests in Chromium (wasm-pack test --headless --chrome: ${web_tests[*]})"
  CHROMEDRIVER=/usr/bin/chromedriver "${as_test[@]}" wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver -- "${web_tests[@]}"
  step "browser tests in Firefox ESR (wasm-pack test --headless --firefox)"
  "${as_test[@]}" wasm-pack test --headless --firefox --geckodriver "$(command -v geckodriver)" -- "${web_tests[@]}"
  step "browser tests in WebKitGTK's MiniBrowser (wasm-pack test --headless --safari, under xvfb-run)"
  xvfb-run -a "${as_test[@]}" wasm-pack test --headless --safari --safaridriver "$PWD/.tools/bin/safaridriver" -- "${web_tests[@]}"
fi
if [ -d tests/e2e ]; then
  step "build the site"
  ./build.sh
  step "end-to-end tests (playwright-core, chromium)"
  node tests/e2e/run.mjs
  step "end-to-end tests of the story at a glance: one screen at 1440×900, the diagram, the eigenmodes, live h"
  node tests/e2e/glance.mjs
  step "smoke test in Chromium, Firefox ESR and WebKitGTK (figures in test-artifacts/engines.json)"
  node tests/e2e/smoke.mjs
  step "end-to-end tests of embeds: the embed API, every view in four frame sizes, print, phones, sub-paths"
  node tests/e2e/embed.mjs
  step "end-to-end test of the example deck (examples/slides/, reveal.js)"
  node tests/e2e/slides.mjs
fi
if [ -f bench.html ]; then
  # Figures, not pass/fail on speed: the native table, then the bench page in the browser worker
  # (which asserts that every row ran, the fast fields equal the SVD reference and the heap stays
  # flat over 10⁵ steps) with the wasm/native ratio on this machine.
  step "benchmark: native (release build)"
  mkdir -p test-artifacts
  cargo build --release --bin pullback
  ./target/release/pullback bench --only S,M,Mr,U --json test-artifacts/bench-native.json
  step "benchmark: the bench page in chromium (playwright-core)"
  BENCH_NATIVE=test-artifacts/bench-native.json node tests/e2e/bench.mjs
fi
step "all tests passed"
