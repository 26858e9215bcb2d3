#!/usr/bin/env node
// The bench page end to end: serves dist/, opens dist/bench.html in Debian chromium (playwright-core)
// with S, M and U and a 10⁵-step heap check, and waits for the worker to finish. Asserts what must
// hold whatever the machine (wasm32 with simd128, every row timed, the fast fields equal to the SVD
// reference, a flat heap, no console error, the restart path) and prints the figures: the
// table, the page's long tasks and the time of two clicks while the worker computes, and the
// wasm/native ratio when $BENCH_NATIVE names a `pullback bench --json` report from the same
// machine. Speeds are printed, never asserted.
// Usage: node tests/e2e/bench.mjs   (env: BENCH_HASH to change the run, BENCH_NATIVE=FILE,
// E2E_PORT=n to serve on that port)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve.mjs';
import { launch, recordLongtasks, ErrorWatch } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.join(root, 'dist');
const artifacts = path.join(root, 'test-artifacts');
fs.mkdirSync(artifacts, { recursive: true });
if (!fs.existsSync(path.join(dist, 'bench.html'))) {
  console.error('bench: dist/bench.html is missing; run ./build.sh first');
  process.exit(2);
}
const hash = process.env.BENCH_HASH || '#only=S,M,Mr,U&memory=100000&auto=1';
const wanted = new URLSearchParams(hash.slice(1)).get('only').split(',');
const memorySteps = Number(new URLSearchParams(hash.slice(1)).get('memory') || 0);

const server = await serve(dist, Number(process.env.E2E_PORT || 0));
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await launch();
const failures = [];
const check = (cond, msg) => { if (!cond) failures.push(msg); };

try {
  // First the restart path, with the test flag (the crash hook): a worker that dies is replaced
  // and the page says so. The page takes the worker's error event, so nothing reaches the console.
  let page = await browser.newPage();
  const crashWatch = new ErrorWatch(page);
  await page.goto(base + 'bench.html?test#only=S');
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 60000 });
  await page.evaluate(() => window.pullbackBench.crash());
  await page.waitForFunction(() => /restarted/.test(document.getElementById('bench-status').textContent), null, { timeout: 10000 });
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 60000 });
  const restartText = await page.textContent('[data-testid=bench-status]');
  check(/stopped .*restarted/.test(restartText), `after a crash the status says: ${restartText}`);
  for (const p of crashWatch.problems()) check(false, `restart path: ${p}`);

  // Then the run as users get it: no test flag, so no hook.
  await page.close();
  page = await browser.newPage();
  const watch = new ErrorWatch(page);
  await recordLongtasks(page);
  await page.goto(base + 'bench.html' + hash);
  await page.waitForFunction(() => document.body.dataset.state === 'running', null, { timeout: 60000 });
  check(await page.evaluate(() => typeof window.pullbackBench) === 'undefined', 'window.pullbackBench exists without the test flag');
  const loadTasks = await page.evaluate(() => window.__longtasks.splice(0).map((t) => t.duration));
  // While the worker computes, the page must answer: a click on a checkbox and back (timed, printed).
  const t0 = Date.now();
  await page.click('input[name=only][value=Mr]');
  await page.click('input[name=only][value=Mr]');
  const clickMs = Date.now() - t0;
  await page.waitForFunction(() => document.body.dataset.done === '1', null, { timeout: 30 * 60 * 1000, polling: 500 });
  const out = await page.evaluate(() => window.benchResult);
  const runTasks = await page.evaluate(() => window.__longtasks.map((t) => t.duration));
  const table = await page.textContent('[data-testid=bench-table]');
  const statusText = await page.textContent('[data-testid=bench-status]');
  await page.screenshot({ path: path.join(artifacts, 'bench-page.png'), fullPage: true });

  console.log(table);
  console.log(statusText);
  const r = out.report;
  fs.writeFileSync(path.join(artifacts, 'bench-wasm.json'), JSON.stringify(r, null, 2));
  check(out.failures.length === 0, `scenarios failed: ${out.failures.join('; ')}`);
  check(r && r.format === 'pullback-bench' && r.target === 'wasm32', `report format/target: ${r && r.format}/${r && r.target}`);
  check(r && r.simd128 === true, 'the page build is not the simd128 one');
  for (const name of wanted) {
    for (const flow of ['standard', 'adapted']) {
      const row = r.results.find((x) => x.scenario === name && x.flow === flow);
      if (!row) { check(false, `${name} ${flow}: no row`); continue; }
      const e = row.eval_seconds;
      check(e.median > 0 && Number.isFinite(e.median) && e.min <= e.median && e.median <= e.max,
        `${name} ${flow}: eval_seconds ${JSON.stringify(e)}`);
      check(row.steps_per_second > 0 && row.steps > 0, `${name} ${flow}: steps/s ${row.steps_per_second} over ${row.steps} steps`);
      if (name === 'Mr' && flow === 'adapted') {
        // Rank-deficient at rank_rtol 1e-10: every evaluation is the SVD of the wide D.
        check(row.paths.svd > 0 && row.paths.fallbacks === row.paths.svd && row.integrator === 'rk45',
          `Mr adapted: paths ${JSON.stringify(row.paths)}, integrator ${row.integrator}`);
      } else {
        check(row.paths.fallbacks === 0, `${name} ${flow}: ${row.paths.fallbacks} SVD fallbacks on a full-rank scenario`);
      }
      // The fast field and the SVD reference at θ₀: the same vector to rounding (ε·κ(D) ≲ 1e-9 here).
      check(row.reference_rel_diff !== null && row.reference_rel_diff <= 1e-8,
        `${name} ${flow}: |fast − SVD|/|SVD| = ${row.reference_rel_diff}`);
    }
  }
  if (memorySteps > 0) {
    const m = (r.memory || [])[0];
    check(m && m.steps === memorySteps, `memory row: ${JSON.stringify(m)}`);
    check(m && m.after === m.before, `wasm heap grew over ${memorySteps} steps: ${m && m.before} → ${m && m.after} bytes`);
  }

  console.log('\nmeasured (browser worker, wasm32 + simd128):');
  const list = (tasks) => (tasks.length ? ` (${tasks.map(Math.round).join(', ')} ms)` : '');
  console.log(`  page long tasks (over 50 ms): ${loadTasks.length} while loading${list(loadTasks)}, ${runTasks.length} while running${list(runTasks)}`);
  console.log(`  two clicks while the worker ran: ${clickMs} ms; whole run ${out.seconds} s`);
  for (const row of r.results.filter((x) => x.flow === 'adapted')) {
    console.log(`  ${row.scenario} adapted: ${row.eval_seconds.median.toExponential(3)} s per evaluation, `
      + `${row.steps_per_second === null ? '–' : row.steps_per_second.toFixed(2)} ${row.integrator} steps/s`
      + `${row.evals_per_step ? `, ${row.evals_per_step.toFixed(1)} evaluations per step` : ''}`);
  }
  if (r.memory && r.memory[0]) console.log(`  heap: ${r.memory[0].before} → ${r.memory[0].after} bytes over ${r.memory[0].steps} RK4 steps of S`);
  const nativePath = process.env.BENCH_NATIVE;
  if (nativePath && fs.existsSync(nativePath)) {
    // The page's own comparison: load the native report into its file input.
    await page.setInputFiles('[data-testid=bench-native]', nativePath);
    const lines = await page.waitForFunction(() => window.benchRatio, null, { timeout: 5000 }).then((h) => h.jsonValue());
    check(lines.length >= 2 + 2 * wanted.length, `ratio table has ${lines.length - 2} rows`);
    console.log('\nwasm/native on this machine, from the page:');
    for (const l of lines) console.log(`  ${l}`);
  }
  // A file that is not a bench report is refused with a message naming the field.
  const bad = path.join(artifacts, 'not-a-bench.json');
  fs.writeFileSync(bad, '{"format": "pullback-trace"}');
  await page.setInputFiles('[data-testid=bench-native]', bad);
  // The page reads the file asynchronously (File.text()): wait for its answer rather than race it.
  const badText = await page.waitForFunction(() => {
    const t = document.querySelector('[data-testid=bench-status]').textContent;
    return /not-a-bench\.json/.test(t) ? t : null;
  }, null, { timeout: 5000 }).then((h) => h.jsonValue()).catch(() => page.textContent('[data-testid=bench-status]'));
  check(/not-a-bench\.json: format: expected/.test(badText), `a wrong native file says: ${badText}`);
  for (const p of watch.problems()) check(false, p);
} catch (e) {
  failures.push(e.stack || String(e));
} finally {
  await browser.close();
  server.close();
}
if (failures.length) {
  console.log(`\nbench page: ${failures.length} check(s) failed`);
  for (const f of failures) console.log(`  ${f}`);
  process.exit(1);
}
console.log('\nbench page: all checks passed');
