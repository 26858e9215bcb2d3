#!/usr/bin/env bash
# Installs everything Pullback needs on a fresh Debian machine, idempotently:
# each step checks first and skips what is already there (see ../shared/SETUP.md for timings).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }
export PATH="$HOME/.cargo/bin:$PATH"

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

# Browser + driver for wasm-bindgen-test and the playwright end-to-end tests.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  log "installing chromium + chromium-driver (apt)"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium chromium-driver
else
  log "chromium present"
fi

# Firefox ESR and WebKitGTK (MiniBrowser + WebKitWebDriver) for the other two engines; WebKit needs
# an X display, so xvfb too.
if [ ! -x /usr/bin/firefox-esr ] || [ ! -x /usr/bin/WebKitWebDriver ] \
  || [ ! -x /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser ] \
  || ! command -v xvfb-run >/dev/null 2>&1 || ! command -v xauth >/dev/null 2>&1; then
  log "installing firefox-esr, webkit2gtk-driver, xvfb (apt)"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q firefox-esr webkit2gtk-driver xvfb xauth
else
  log "firefox-esr and WebKitWebDriver present"
fi

for comp in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$comp"; then
    log "adding rust component $comp"
    rustup component add "$comp"
  fi
done

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! command -v wasm-pack >/dev/null 2>&1 || ! wasm-pack --version | grep -q '0\.15\.1'; then
  log "installing wasm-pack 0.15.1 (cargo, ~3 min)"
  cargo install --locked wasm-pack --version 0.15.1
fi

# The CLI must match the wasm-bindgen crate version pinned in Cargo.toml exactly.
# Not --locked: its lockfile pins a crate version the registry lacks.
if ! command -v wasm-bindgen >/dev/null 2>&1 || ! wasm-bindgen --version | grep -q '0\.2\.130'; then
  log "installing wasm-bindgen-cli 0.2.130 (cargo, ~3 min)"
  cargo install wasm-bindgen-cli --version 0.2.130
fi

# wasm-pack test --firefox drives Firefox ESR through geckodriver.
if ! command -v geckodriver >/dev/null 2>&1 || ! geckodriver --version 2>/dev/null | grep '0\.37\.1' >/dev/null; then
  log "installing geckodriver 0.37.1 (cargo, ~3 min)"
  cargo install geckodriver --version 0.37.1 --locked
fi

# wasm-pack test --safari wants a `safaridriver`: WebKitGTK's driver speaks the same protocol and
# starts MiniBrowser. The link lives in the checkout (.tools/ is git-ignored).
mkdir -p .tools/bin
if [ "$(readlink .tools/bin/safaridriver 2>/dev/null)" != /usr/bin/WebKitWebDriver ]; then
  log "linking .tools/bin/safaridriver -> /usr/bin/WebKitWebDriver"
  ln -sfn /usr/bin/WebKitWebDriver .tools/bin/safaridriver
fi

# Every devDependency of package.json installed at its pinned version (playwright-core, binaryen,
# puppeteer-core, selenium-webdriver, reveal.js for the example deck); none of them downloads a
# browser or a driver.
npm_missing=$(node -e '
  const fs = require("fs");
  const want = require("./package.json").devDependencies;
  const bad = Object.entries(want).filter(([n, v]) => {
    try { return JSON.parse(fs.readFileSync(`node_modules/${n}/package.json`, "utf8")).version !== v; }
    catch { return true; }
  });
  console.log(bad.map(([n, v]) => `${n}@${v}`).join(" "));
')
if [ -n "$npm_missing" ]; then
  log "installing npm packages (npm ci: $npm_missing)"
  npm ci --no-audit --no-fund --silent
fi
log "toolchain ready"
