#!/usr/bin/env bash
# Sets up the toolchain if needed, builds the playground and serves it on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./build.sh
exec node scripts/serve.mjs dist "${PORT:-8080}"
