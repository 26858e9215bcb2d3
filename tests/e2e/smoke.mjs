#!/usr/bin/env node
// The smoke test in every browser engine (Chromium, Firefox ESR, WebKitGTK; see engines.mjs): on the
// built dist/ served on 127.0.0.1, the default page becomes interactive, plays, and the adapted
// flow's cost falls in both the readout and the flows table; a broken hash shows the banner naming
// the key; the embed API answers getState from a framing page; no console error. Prints per engine the load time to interactive and the adapted flow's
// steps/s on the default preset (figures, not asserted) and writes them to
// test-artifacts/engines.json. Exits 1 if any check failed in any engine.
//
// SMOKE_ENGINES=firefox,webkit runs a subset; SMOKE_PORT and WEBKIT_DRIVER_PORT fix the ports
// (default: free ones). Run after ./build.sh (scripts/test.sh does).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve.mjs';
import { ENGINES, collectorScript, launchEngine } from './engines.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.join(root, 'dist');
const artifacts = path.join(root, 'test-artifacts');
fs.mkdirSync(artifacts, { recursive: true });
if (!fs.existsSync(path.join(dist, 'index.html'))) {
  console.error('smoke: dist/index.html is missing; run ./build.sh first');
  process.exit(2);
}
const engines = (process.env.SMOKE_ENGINES || ENGINES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);

// dist/ as built, except that HTML pages get the error collector at the top of <head>, before any
// page script (engines.mjs says why).
const server = await serve(dist, Number(process.env.SMOKE_PORT || 0));
const files = server.listeners('request')[0];
server.removeAllListeners('request');
server.on('request', (req, res) => {
  const { pathname } = new URL(req.url, 'http://localhost');
  if (pathname !== '/' && !pathname.endsWith('.html')) { files(req, res); return; }
  const file = path.join(dist, pathname === '/' ? 'index.html' : decodeURIComponent(pathname));
  if (!file.startsWith(dist) || !fs.existsSync(file)) { files(req, res); return; }
  const html = fs.readFileSync(file, 'utf8');
  const head = html.match(/<head[^>]*>/i);
  if (!head) { res.writeHead(500).end(`smoke: ${file} has no <head>`); return; }
  const at = head.index + head[0].length;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
  res.end(html.slice(0, at) + collectorScript + html.slice(at));
});
const base = `http://127.0.0.1:${server.address().port}/`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// The adapted flow's row of the flows table (cost, status and steps/s as the page shows them) and
// the cost readout, in one snapshot: a frame updates both at once.
const snapshot = () => {
  const tr = [...document.querySelectorAll('#lanes tbody tr')]
    .find((r) => r.querySelector('.name') && r.querySelector('.name').textContent === 'adapted');
  const cell = (c) => tr.querySelector(c).textContent;
  return {
    readout: Number(document.querySelector('[data-testid=cost]').dataset.value),
    row: tr ? { cost: Number(cell('.c')), status: cell('.st'), sps: Number(cell('.sps')) } : null,
  };
};
const stateIs = (states) => states.includes(document.body.dataset.state);

async function smoke(name) {
  const figures = { engine: name };
  const checks = [];
  const t0 = Date.now();
  let engine = null;
  // One page at a time (engines.mjs): the previous one's console errors are kept, then it closes.
  let current = null;
  const errors = [];
  const closeCurrent = async () => {
    if (!current) return;
    const p = current;
    current = null;
    errors.push(...await p.consoleErrors());
    await p.close();
  };
  // With the test flag (?test), as run.mjs: window.pullback.readyAt is the page's own measure of
  // when it became interactive.
  const open = async (hash) => {
    await closeCurrent();
    current = await engine.open(`${base}?test${hash}`);
    return current;
  };
  const check = async (what, fn) => {
    const t = Date.now();
    try {
      await fn();
      checks.push({ what, ok: true });
      console.log(`ok   ${name}: ${what} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    } catch (e) {
      checks.push({ what, ok: false, error: e.message });
      console.log(`FAIL ${name}: ${what}: ${e.message}`);
    }
  };
  try {
    engine = await launchEngine(name, { driverPort: Number(process.env.WEBKIT_DRIVER_PORT || 0) });
    let page = null;
    await check('the default page becomes interactive', async () => {
      page = await open('');
      await page.waitFor(stateIs, ['ready'], 'body[data-state=ready]', 60000);
      figures.loadToInteractiveMs = Math.round(await page.evaluate(() => window.pullback.readyAt));
      const hash = await page.evaluate(() => location.hash);
      assert(hash.startsWith('#preset=over-smooth&') && hash.includes('flows=adapted'), `default hash: ${hash}`);
      await page.waitForSelector('[data-testid=play]', 5000);
    });
    figures.version = engine.version;
    await check('play: the adapted cost falls in the readout and the table, and the run ends at C ≤ ε', async () => {
      assert(page, 'no page');
      await page.click('[data-testid=play]');
      await page.waitFor(() => document.body.dataset.state !== 'ready', null, 'the run to start', 10000);
      const { readout: r1, row: t1 } = await page.evaluate(snapshot);
      assert(t1 && Number.isFinite(t1.cost) && Number.isFinite(r1), `no numeric cost: readout ${r1}, row ${JSON.stringify(t1)}`);
      await page.waitFor((c) => Number(document.querySelector('[data-testid=cost]').dataset.value) < c, r1, `the cost readout to fall below ${r1}`, 15000);
      const { readout: r2, row: t2 } = await page.evaluate(snapshot);
      assert(r2 < r1, `the cost readout did not fall: ${r1} then ${r2}`);
      assert(t2.cost < t1.cost, `the adapted row's cost did not fall: ${t1.cost} then ${t2.cost}`);
      // The default preset is overparametrized: the adapted flow runs to the ε stop, and the table's
      // steps/s cell then holds the whole run's rate.
      let end = { readout: r2, row: t2 };
      for (const stop = Date.now() + 120000; end.row.status === 'running'; await sleep(100)) {
        assert(Date.now() < stop, `the adapted flow still runs after 120 s: ${JSON.stringify(end)}`);
        end = await page.evaluate(snapshot);
      }
      const eps = Number(new URLSearchParams((await page.evaluate(() => location.hash)).slice(1)).get('eps'));
      assert(end.row.status === 'cost_below', `the adapted flow ended by ${end.row.status}`);
      assert(end.readout <= eps, `the adapted flow ended at C = ${end.readout} > ε = ${eps}`);
      figures.adaptedStepsPerSecond = end.row.sps;
      figures.adaptedFinalCost = end.readout;
    });
    await check('a broken hash (#N=abc) shows the banner naming N, and the page still loads', async () => {
      const p = await open('#N=abc');
      await p.waitFor(stateIs, ['ready'], 'body[data-state=ready]', 60000);
      await p.waitForSelector('[data-testid=error-banner]', 5000);
      const text = await p.evaluate(() => document.querySelector('[data-testid=error-banner]').textContent);
      assert(/\bN:/.test(text) && /abc/.test(text), `banner: ${text}`);
    });
    await check('the embed API: a framed page answers getState over postMessage', async () => {
      // The page frames itself in embed mode, waits for the frame's 'ready' event and asks it.
      const p = await open('#preset=borderline&flows=adapted&view=cost');
      await p.waitFor(stateIs, ['ready'], 'body[data-state=ready]', 60000);
      const a = await p.evaluate((src) => new Promise((resolve, reject) => {
        const f = document.createElement('iframe');
        f.width = '640';
        f.height = '360';
        f.src = src;
        const timer = setTimeout(() => reject(new Error('no answer to getState within 25 s')), 25000);
        addEventListener('message', (e) => {
          const m = e.data;
          if (e.source !== f.contentWindow || !m || m.pullback !== 1) return;
          if (m.event === 'ready') f.contentWindow.postMessage({ pullback: 1, id: 'smoke', method: 'getState' }, '*');
          else if (m.id === 'smoke') { clearTimeout(timer); resolve(m); }
        });
        document.body.prepend(f);
      }), `${base}#preset=borderline&flows=adapted&view=cost&embed=1`);
      assert(a && a.result && a.result.state === 'ready' && a.result.s === 0, `answer: ${JSON.stringify(a)}`);
      assert(a.result.flows.length === 1 && a.result.flows[0].name === 'adapted' && a.result.flows[0].cost > 0, `flows: ${JSON.stringify(a.result.flows)}`);
    });
    await check('no console errors', async () => {
      await closeCurrent();
      assert(errors.length === 0, errors.join(' | '));
    });
  } catch (e) {
    checks.push({ what: 'launch', ok: false, error: e.message });
    console.log(`FAIL ${name}: ${e.stack}`);
  } finally {
    if (current) await current.close().catch(() => {});
    if (engine) await engine.close().catch(() => {});
  }
  figures.version ??= engine?.version ?? null;
  figures.smokeSeconds = Math.round((Date.now() - t0) / 100) / 10;
  figures.checks = checks;
  return figures;
}

const report = {};
for (const name of engines) report[name] = await smoke(name);
server.close();

console.log('\nper engine (figures, not asserted):');
for (const [name, f] of Object.entries(report)) {
  console.log(`  ${name.padEnd(8)} ${f.version ?? '?'}: load to interactive ${f.loadToInteractiveMs ?? '–'} ms, `
    + `adapted ${f.adaptedStepsPerSecond ?? '–'} steps/s on the default preset (smoke ${f.smokeSeconds} s)`);
}
fs.writeFileSync(path.join(artifacts, 'engines.json'), JSON.stringify(report, null, 2));
const failed = Object.values(report).flatMap((f) => f.checks.filter((c) => !c.ok).map((c) => `${f.engine}: ${c.what}`));
console.log(`\nsmoke: ${engines.length} engines, ${failed.length ? `${failed.length} failed check(s)` : 'all checks passed'}`);
for (const f of failed) console.log(`  ${f}`);
process.exit(failed.length ? 1 : 0);
