#!/usr/bin/env node
// Runs the benchmark inside V8's WebAssembly (node), for the wasm/native ratio without a page.
// Usage: node scripts/bench-wasm.mjs PKG_DIR [CONFIG_JSON]
//   PKG_DIR: a `wasm-pack build --target nodejs` output directory (see scripts/bench-wasm.sh).
// Prints the table; writes the JSON report to $BENCH_JSON when set.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const [pkgDir, config = '{}'] = process.argv.slice(2);
if (!pkgDir) {
  console.error('usage: node scripts/bench-wasm.mjs PKG_DIR [CONFIG_JSON]');
  process.exit(2);
}
const require = createRequire(import.meta.url);
const pkg = require(resolve(pkgDir, 'pullback.js'));
// V8 starts wasm on its baseline compiler and tiers hot functions up while they run: an untimed
// pass first (as www/bench-worker.js does), so that the timed scenarios run optimized code.
pkg.bench_run(JSON.stringify({ only: ['S', 'U'], quick: true }));
const out = JSON.parse(pkg.bench_run(config));
if (out.error) {
  console.error(`error: ${out.error}`);
  process.exit(1);
}
process.stdout.write(out.table);
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(out.report, null, 2));
