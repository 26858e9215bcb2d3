#!/usr/bin/env node
// End-to-end tests of the built site: serves dist/ on 127.0.0.1 and drives Debian chromium with
// playwright-core. Run after ./build.sh (scripts/test.sh does). Prints one line per test plus the
// measured figures (time to first interactive, steps per second in the worker, drawing times),
// saves screenshots and the checked trace to test-artifacts/, and exits 1 if any test failed.
// Durations (load time, long tasks, drawing times, steps per second) are printed, never asserted:
// they depend on the machine and its load. Every test fails on a console error or an uncaught
// exception of any page it opened (none provokes one on purpose: the page takes a crashed
// worker's error event). Pages open with the test flag (`?test`: window.pullback and the
// worker's test hooks) unless a test asks for the page as users get it.
// Env: E2E_ONLY=regex runs the matching tests only; E2E_PORT=n serves on that port (else a free one).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve.mjs';
import { launch, recordLongtasks, ErrorWatch } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.join(root, 'dist');
const artifacts = path.join(root, 'test-artifacts');
fs.mkdirSync(artifacts, { recursive: true });
if (!fs.existsSync(path.join(dist, 'index.html'))) {
  console.error('e2e: dist/index.html is missing; run ./build.sh first');
  process.exit(2);
}

const server = await serve(dist, Number(process.env.E2E_PORT || 0));
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await launch();

const figures = {};
// Figures too long to print, saved with the others.
const details = {};
const results = [];

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// The error watches of the pages the running test opened, checked when it ends.
let watches = [];

// A fresh context per page: its own storage, downloads and clipboard permission. `test: false`
// opens the page without the test flag.
async function open(hash, { viewport = { width: 1400, height: 1000 }, longtasks = false, scale = 1, test = true } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads: true, deviceScaleFactor: scale });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await context.newPage();
  watches.push(new ErrorWatch(page));
  if (longtasks) await recordLongtasks(page);
  // A null hash leaves the page blank (a host for an iframe).
  if (hash !== null) await page.goto(base + (test ? '?test' : '') + hash);
  return { page, context };
}

const state = (page) => page.evaluate(() => document.body.dataset.state);
const value = async (page, testid) => Number(await page.getAttribute(`[data-testid=${testid}]`, 'data-value'));
const waitState = (page, states, timeout = 30000) => page.waitForFunction(
  (s) => s.includes(document.body.dataset.state), states, { timeout },
);

// E2E_ONLY=regex runs only the matching tests (for working on one of them).
const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;

async function test(name, fn) {
  if (only && !only.test(name)) return;
  const t0 = Date.now();
  watches = [];
  try {
    await fn();
    for (const w of watches) w.check();
    results.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - t0, error: e });
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

async function downloadTrace(page, lane) {
  await page.selectOption('#trace-lane', String(lane));
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=download-trace]')]);
  const file = await dl.path();
  return { name: dl.suggestedFilename(), json: JSON.parse(fs.readFileSync(file, 'utf8')) };
}

function slope(points) {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) * (x - mx);
  }
  return sxy / sxx;
}

await test('a preset with autoplay=1 runs and the cost readout falls', async () => {
  const { page, context } = await open('#preset=over-smooth&autoplay=1');
  await waitState(page, ['running']);
  figures.firstInteractiveMs = Math.round(await page.evaluate(() => window.pullback.readyAt));
  const c1 = await value(page, 'cost');
  await page.waitForTimeout(700);
  const c2 = await value(page, 'cost');
  assert(Number.isFinite(c1) && Number.isFinite(c2), `cost readout not numeric: ${c1}, ${c2}`);
  assert(c2 < c1, `cost did not fall: ${c1} then ${c2}`);
  assert(await value(page, 's') > 0, 's readout did not move');
  assert((await page.textContent('[data-testid=regime]')).startsWith('over'), 'regime badge');
  // Hovering the cost figure reads the values under the cursor.
  const box = await page.locator('figure[data-view=cost] canvas').boundingBox();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
  await page.waitForFunction(() => !document.getElementById('tooltip').hidden);
  const tip = await page.textContent('#tooltip');
  assert(/^s = [\d.]+ · adapted: C = [\d.]+e-?\d+/.test(tip), `tooltip: ${tip}`);
  await context.close();
});

await test('the default view (no hash) and its screenshot', async () => {
  const { page, context } = await open('', { viewport: { width: 1400, height: 1500 } });
  await waitState(page, ['ready']);
  const hash = await page.evaluate(() => location.hash);
  assert(hash.startsWith('#preset=over-smooth&'), `default hash: ${hash}`);
  await page.click('[data-testid=play]');
  await waitState(page, ['running']);
  await page.waitForTimeout(2500);
  await page.screenshot({ path: path.join(artifacts, 'default.png'), fullPage: true });
  await context.close();
});

await test('overparametrized preset: the downloaded adapted trace has log-cost slope −2/N to 1e-4', async () => {
  const { page, context } = await open('#preset=over-smooth&flows=adapted,standard&autoplay=1');
  await waitState(page, ['running']);
  await waitState(page, ['paused'], 60000);
  const { name, json } = await downloadTrace(page, 0);
  fs.writeFileSync(path.join(artifacts, name), JSON.stringify(json));
  assert(json.format === 'pullback-trace' && json.flow === 'adapted', `not the adapted trace: ${json.flow}`);
  const pts = json.samples.map((p) => [p.s, Math.log(p.cost)]);
  const k = slope(pts);
  const want = -2 / json.N;
  figures.adaptedSlope = k;
  assert(Math.abs(k - want) < 1e-4, `slope ${k} vs −2/N = ${want}`);
  assert(json.final.reason === 'cost_below', `run ended by ${json.final.reason}`);
  const rel = Math.abs(json.measured_stopping_time - json.predicted_stopping_time) / json.predicted_stopping_time;
  figures.stoppingTimeRelErr = rel;
  assert(rel < 1e-4, `stopping time measured ${json.measured_stopping_time} vs predicted ${json.predicted_stopping_time}`);
  // Steps per second of the adapted lane (worker compute time), with the standard lane beside it.
  figures.adaptedStepsPerSecondWithStandard = (await page.evaluate(() => window.pullback.lanes()))[0].steps_per_s;
  // The cost curves download as CSV with one column per flow.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=download-csv]')]);
  const csv = fs.readFileSync(await dl.path(), 'utf8').trim().split('\n');
  assert(csv[0] === 's,cost adapted,cost standard (RK45)', `csv header: ${csv[0]}`);
  assert(csv.length > 150, `csv has ${csv.length} lines`);
  // And a plot as PNG.
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('figure[data-view=cost] button.png')]);
  const bytes = fs.readFileSync(await png.path());
  assert(bytes.subarray(1, 4).toString() === 'PNG' && bytes.length > 5000, 'PNG download');
  await context.close();
});

await test('the adapted flow alone on the default preset: steps per second in the worker', async () => {
  const { page, context } = await open('#flows=adapted&autoplay=1&view=cost');
  await waitState(page, ['running']);
  await waitState(page, ['paused'], 60000);
  const lane = (await page.evaluate(() => window.pullback.lanes()))[0];
  figures.adaptedStepsPerSecond = lane.steps_per_s;
  figures.adaptedSteps = lane.steps;
  assert(lane.status === 'cost_below', `adapted run ended by ${lane.status}`);
  assert(lane.steps_per_s > 0, 'no steps per second reported');
  await context.close();
});

await test('copy link restores the same scenario (clicked point, edits and flows included)', async () => {
  const { page, context } = await open('#preset=over-smooth');
  await waitState(page, ['ready']);
  await page.fill('#N', '20');
  await page.fill('#seed', '5');
  await page.check('input.flow[value=gd]');
  await page.fill('#h', '0.04');
  await page.waitForFunction(() => window.pullback.info() && window.pullback.info().n === 20);
  // A point added by clicking the input plane makes the data custom: the link needs scenario=.
  await page.locator('figure[data-view=boundary] canvas').scrollIntoViewIfNeeded();
  await page.waitForTimeout(300);
  // The box is read again before every click: the page may reflow while the worker reloads
  // (readouts, the steps/s table), and a shift-click must land within 12 px of the point.
  const spot = async () => {
    await page.waitForTimeout(300);
    const box = await page.locator('figure[data-view=boundary] canvas').boundingBox();
    return [box.x + box.width * 0.55, box.y + box.height * 0.45];
  };
  await page.mouse.click(...(await spot()));
  await page.waitForFunction(() => window.pullback.info() && window.pullback.info().n === 21);
  // Shift-click removes it again, another click puts one back.
  const at = await spot();
  await page.keyboard.down('Shift');
  await page.mouse.click(...at);
  await page.keyboard.up('Shift');
  await page.waitForFunction(() => window.pullback.info().n === 20);
  await page.mouse.click(...(await spot()));
  await page.waitForFunction(() => window.pullback.info().n === 21);
  await page.click('[data-testid=copy-link]');
  const link = await page.inputValue('#share-text');
  const clip = await page.evaluate(() => navigator.clipboard.readText()).catch(() => null);
  assert(clip === null || clip === link, 'clipboard and link field differ');
  assert(link.includes('scenario=') && link.includes('flows=adapted,standard,gd') && link.includes('h=0.04'), link);
  assert(!new URL(link).searchParams.has('test'), `the test flag leaked into the link: ${link}`);
  const before = await page.evaluate(() => window.pullback.scenario());
  const { page: page2, context: c2 } = await open(link.slice(base.length));
  await waitState(page2, ['ready']);
  const after = await page2.evaluate(() => window.pullback.scenario());
  assert(after === before, 'the scenario differs after the round trip');
  assert(await page2.evaluate(() => window.pullback.info().n) === 21, 'N after the round trip');
  assert(await page2.evaluate(() => window.pullback.info().lanes.length) === 3, 'flows after the round trip');
  assert(await page2.isHidden('[data-testid=error-banner]'), 'banner shown after the round trip');
  // The embed code is an iframe of the same page in embed mode.
  await page.click('[data-testid=copy-embed]');
  const code = await page.inputValue('#share-text');
  assert(/^<iframe src="http:\/\/127\.0\.0\.1:\d+\/#.*embed=1.*"/.test(code), code.slice(0, 120));
  // The snippet works as written: the page may be framed, and shows the same scenario there (its
  // address carries the same scenario JSON; it has no test flag, so no window.pullback to ask).
  const { page: host, context: c3 } = await open(null);
  await host.setContent(`<!doctype html><body style="margin:0">${code}</body>`);
  const frame = host.frames().find((f) => f !== host.mainFrame());
  await frame.waitForFunction(() => document.body && document.body.dataset.state === 'ready', null, { timeout: 30000 });
  const scenarioOf = (url) => new URLSearchParams(url.slice(url.indexOf('#') + 1)).get('scenario');
  const framed = await frame.evaluate(() => location.hash);
  assert(scenarioOf(framed) !== null && scenarioOf(framed) === scenarioOf(link), `the framed page shows another scenario: ${framed}`);
  assert(Buffer.from(scenarioOf(framed), 'base64url').toString() === before, 'the framed scenario differs from the page\'s');
  assert(await frame.evaluate(() => window.pullback === undefined), 'the embed code carries the test hooks');
  assert(await frame.isHidden('[data-testid=controls]'), 'controls visible in the framed embed');
  await c3.close();
  await c2.close();
  await context.close();
});

await test('a broken hash shows the banner naming the bad keys, and the page still runs', async () => {
  const { page, context } = await open('#preset=nope&N=abc&flows=adapted,bogus&zzz=1');
  await waitState(page, ['ready']);
  assert(await page.isVisible('[data-testid=error-banner]'), 'no banner');
  const text = await page.textContent('[data-testid=error-banner]');
  for (const key of ['preset:', 'N:', 'flows:', 'zzz:']) assert(text.includes(key), `banner lacks ${key}: ${text}`);
  await page.click('[data-testid=play]');
  await waitState(page, ['running']);
  const c1 = await value(page, 'cost');
  await page.waitForTimeout(600);
  const c2 = await value(page, 'cost');
  assert(c2 < c1, `cost did not fall after a broken hash: ${c1} then ${c2}`);
  // The address bar now holds a clean hash.
  const hash = await page.evaluate(() => location.hash);
  assert(!hash.includes('zzz') && hash.includes('preset=over-smooth'), hash);
  await context.close();
});

await test('embed=1 shows only the chosen views and a play button', async () => {
  const { page, context } = await open('#preset=over-smooth&view=cost,outputs&embed=1', { viewport: { width: 720, height: 440 }, scale: 2 });
  await waitState(page, ['ready']);
  assert(await page.isHidden('[data-testid=controls]'), 'the editor is visible in embed mode');
  assert(await page.isHidden('#explain') && await page.isHidden('#top'), 'chrome visible in embed mode');
  assert(await page.isHidden('[data-testid=step]') && await page.isHidden('[data-testid=reset]'), 'step/reset visible');
  assert(await page.isVisible('[data-testid=play]'), 'no play button');
  assert(await page.isVisible('figure[data-view=cost] canvas') && await page.isVisible('figure[data-view=outputs] canvas'), 'views hidden');
  assert(await page.isHidden('figure[data-view=spectrum]'), 'an unchosen view is visible');
  const box = await page.locator('figure[data-view=cost] canvas').boundingBox();
  assert(box.height > 250, `the view does not fill the frame: ${box.height}px`);
  // Canvases carry device pixels: crisp at devicePixelRatio 2.
  const px = await page.evaluate(() => {
    const c = document.querySelector('figure[data-view=cost] canvas');
    return [c.width, c.height, c.getBoundingClientRect().width, c.getBoundingClientRect().height];
  });
  assert(Math.abs(px[0] - 2 * px[2]) <= 1 && Math.abs(px[1] - 2 * px[3]) <= 1, `canvas ${px[0]}×${px[1]} for ${px[2]}×${px[3]} CSS px`);
  await page.click('[data-testid=play]');
  await waitState(page, ['running', 'paused']);
  await page.waitForTimeout(1500);
  await page.screenshot({ path: path.join(artifacts, 'embed.png') });
  await context.close();
});

await test('run until C ≤ ε shows progress and stops every flow', async () => {
  const { page, context } = await open('#preset=borderline&flows=adapted,gd&h=0.1&speed=1');
  await waitState(page, ['ready']);
  await page.click('[data-testid=run-until]');
  // The state is 'running' until the last flow ends (borderline ends within a second).
  assert(await state(page) === 'running' || await state(page) === 'paused', 'run did not start');
  await page.waitForFunction(() => document.body.dataset.state === 'paused', null, { timeout: 60000 });
  assert(await page.isVisible('[data-testid=progress]'), 'no progress indicator');
  const p = await page.evaluate(() => document.querySelector('[data-testid=progress]').value);
  assert(p === 1, `progress at the end: ${p}`);
  const lanes = await page.evaluate(() => window.pullback.lanes());
  assert(lanes.every((l) => l.status !== 'running'), lanes.map((l) => l.status).join(','));
  assert(lanes[0].status === 'cost_below', `adapted ended by ${lanes[0].status}`);
  await context.close();
});

await test('a crashed worker is restarted, the user is told, and the scenario restored', async () => {
  const { page, context } = await open('#preset=borderline&flows=adapted');
  await waitState(page, ['ready']);
  const before = await page.evaluate(() => window.pullback.scenario());
  await page.evaluate(() => window.pullback.crashWorker());
  await page.waitForFunction(() => !document.querySelector('[data-testid=error-banner]').hidden);
  const text = await page.textContent('[data-testid=error-banner]');
  assert(/worker/i.test(text) && /restarted/.test(text), text);
  await waitState(page, ['ready']);
  assert(await page.evaluate(() => window.pullback.scenario()) === before, 'scenario changed');
  await page.click('[data-testid=play]');
  await waitState(page, ['running', 'paused']);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=s]').dataset.value) > 0);
  await context.close();
});

await test('a worker that stops answering is replaced after the watchdog time, paused, and the user is told', async () => {
  const { page, context } = await open('#preset=over-smooth&flows=adapted&speed=1');
  await waitState(page, ['ready']);
  await page.evaluate(() => window.pullback.setWatchdogMs(3000));
  const before = await page.evaluate(() => window.pullback.scenario());
  await page.click('[data-testid=play]');
  await waitState(page, ['running']);
  await page.evaluate(() => window.pullback.hangWorker(15000));
  await page.waitForFunction(() => /not answered/.test(document.getElementById('banner-text').textContent), null, { timeout: 10000 });
  const text = await page.textContent('[data-testid=error-banner]');
  assert(/restarted/.test(text) && /paused/.test(text), text);
  await waitState(page, ['ready', 'paused'], 10000);
  assert(await page.evaluate(() => window.pullback.scenario()) === before, 'scenario changed');
  await page.waitForTimeout(1000);
  assert(['ready', 'paused'].includes(await state(page)), `after the restart the page is ${await state(page)}, not paused`);
  await context.close();
});

await test('without the test flag there are no test hooks: no window.pullback, and the worker refuses __crash and __hang', async () => {
  const { page, context } = await open('#preset=borderline&flows=adapted', { test: false });
  await waitState(page, ['ready']);
  assert(await page.evaluate(() => typeof window.pullback) === 'undefined', 'window.pullback exists without the test flag');
  // A worker started as the page starts it without the flag: both hooks are unknown messages, each
  // answered with an error naming the field `type` (with the hooks it would throw, or stay busy for
  // a minute and never answer).
  // The worker's file carries a content hash (build.sh): take the URL the page itself loaded.
  const answers = await page.evaluate(() => new Promise((resolve, reject) => {
    const url = performance.getEntriesByType('resource').map((e) => e.name).find((n) => /\/www\/worker\.[0-9a-f]{10}\.js/.test(n));
    if (!url) { reject(new Error('the page loaded no www/worker.<hash>.js')); return; }
    const w = new Worker(new URL(url).pathname, { type: 'module' });
    const got = [];
    const timer = setTimeout(() => { w.terminate(); reject(new Error(`no answer to the hooks; got ${JSON.stringify(got)}`)); }, 20000);
    w.onerror = (e) => { e.preventDefault(); clearTimeout(timer); w.terminate(); reject(new Error(`the worker threw: ${e.message}`)); };
    w.onmessage = (e) => {
      if (e.data.type === 'ready') {
        w.postMessage({ id: 1, type: '__crash' });
        w.postMessage({ id: 2, type: '__hang', ms: 60000 });
        return;
      }
      got.push(e.data);
      if (got.length === 2) { clearTimeout(timer); w.terminate(); resolve(got); }
    };
  }));
  for (const [i, a] of answers.entries()) {
    assert(a.type === 'error' && a.id === i + 1 && a.field === 'type' && !a.fatal, `answer to ${i ? '__hang' : '__crash'}: ${JSON.stringify(a)}`);
  }
  await context.close();
});

await test('keyboard: space plays and pauses, "." steps, "r" rewinds', async () => {
  const { page, context } = await open('#preset=under-stationary&flows=adapted,standard&speed=5');
  await waitState(page, ['ready']);
  const every = await page.evaluate(() => window.pullback.info().every_s);
  await page.keyboard.press('.');
  await page.waitForFunction((e) => Number(document.querySelector('[data-testid=s]').dataset.value) >= e - 1e-9, every);
  await waitState(page, ['paused']);
  const s1 = await value(page, 's');
  assert(s1 >= every - 1e-9 && s1 < every * 2, `one step moved s to ${s1} (every_s = ${every})`);
  await page.keyboard.press(' ');
  await waitState(page, ['running']);
  await page.waitForTimeout(500);
  await page.keyboard.press(' ');
  await waitState(page, ['paused']);
  await page.keyboard.press('r');
  await waitState(page, ['ready']);
  assert(await value(page, 's') === 0, 'rewind did not return to s = 0');
  await context.close();
});

await test('editing the network updates K, QN and the regime before anything runs; CSV import', async () => {
  const { page, context } = await open('#preset=over-smooth');
  await waitState(page, ['ready']);
  assert((await page.textContent('[data-testid=regime]')).includes('K = 354'), 'initial K');
  await page.fill('#layers input >> nth=0', '2');
  await page.fill('#layers input >> nth=1', '2');
  await page.waitForFunction(() => document.querySelector('[data-testid=regime]').textContent.startsWith('under'));
  const badge = await page.textContent('[data-testid=regime]');
  assert(badge.includes('K = 18') && badge.includes('QN = 32'), badge);
  const csv = path.join(artifacts, 'three-points.csv');
  fs.writeFileSync(csv, 'x1,x2,label\n0,0,a\n1,0,b\n0,1,c\n');
  await page.setInputFiles('#import', csv);
  await page.waitForFunction(() => window.pullback.info() && window.pullback.info().n === 3);
  const info = await page.evaluate(() => window.pullback.info());
  assert(info.q === 3 && info.classes === 3, `imported Q = ${info.q}`);
  fs.writeFileSync(csv, 'x1,x2,label\n0,0,a\n1,zz,b\n');
  await page.setInputFiles('#import', csv);
  await page.waitForFunction(() => !document.querySelector('[data-testid=error-banner]').hidden);
  const text = await page.textContent('[data-testid=error-banner]');
  assert(text.includes('csv line 3, column 2'), text);
  await context.close();
});


// Pixels of a canvas that are not white, as a fraction (a figure was drawn).
const inkOf = (page, selector) => page.evaluate((sel) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) n++;
  return n / (c.width * c.height);
}, selector);
const readout = async (page, key) => {
  const el = page.locator(`[data-testid=readout-${key}]`);
  return { text: await el.textContent(), value: Number(await el.getAttribute('data-value')) };
};

await test('trapped preset: the critical panel appears at the rest point and Escape lowers the cost readout', async () => {
  const { page, context } = await open('#preset=softplus-trapped&flows=standard&escape=0');
  await waitState(page, ['ready']);
  assert(!(await page.isChecked('[data-testid=escape-auto]')), 'automatic escape is on despite escape=0');
  await page.click('[data-testid=play]');
  await waitState(page, ['paused'], 60000);
  const lanes = await page.evaluate(() => window.pullback.lanes());
  assert(lanes[0].status === 'stationary', `the standard flow ended by ${lanes[0].status}`);
  const c1 = await value(page, 'cost');
  assert(Math.abs(c1 - 0.5) < 1e-9, `rest cost ${c1}`);
  // The worker inspects the rest point; the panel fills with the readouts.
  await page.waitForFunction(() => document.querySelector('[data-testid=readout-rank]'), null, { timeout: 30000 });
  assert(await page.isVisible('[data-testid=critical-panel]'), 'the critical panel did not appear');
  const rank = await readout(page, 'rank');
  const dim = await readout(page, 'dimension');
  const proj = await readout(page, 'proj');
  const grad = await readout(page, 'grad');
  assert(rank.text === '3 of QN = 4', `r: ${rank.text}`);
  assert(dim.text === '9 − 3 = 6', `K − r: ${dim.text}`);
  assert(Math.abs(grad.value - 0.5) < 1e-9, `|∇ₓC| = ${grad.value}`);
  assert(proj.value <= 1e-6 * grad.value, `|𝒫∇ₓC| = ${proj.value}`);
  const verdict = await page.textContent('[data-testid=critical-verdict]');
  assert(verdict.startsWith('θ* is a rest point of the DAE (4.5)'), verdict);
  // The full Hessian's readouts: λ_min < 0 and dim ker H beside K − r.
  const hess = await readout(page, 'hessian');
  assert(hess.value < 0, `λ_min(H) = ${hess.value}`);
  const kern = await readout(page, 'kernel');
  assert(kern.text.includes('beside K − r = 6'), `dim ker H: ${kern.text}`);
  await page.locator('[data-testid=critical-panel]').scrollIntoViewIfNeeded();
  await page.waitForTimeout(500);
  const ink = await inkOf(page, 'figure[data-view=critical] canvas');
  assert(ink > 0.3, `the slice heatmap is blank: ink ${ink}`);
  // Escape: one step along the eigenvector of the Hessian's least eigenvalue lowers the cost.
  assert(await page.isEnabled('[data-testid=escape]'), 'the Escape button is disabled at the rest point');
  await page.click('[data-testid=escape]');
  await page.waitForFunction((c) => Number(document.querySelector('[data-testid=cost]').dataset.value) < c, c1);
  const c2 = await value(page, 'cost');
  figures.escapeCost = [c1, c2];
  // The readout is the escape's own C(θ₀'), which passed the acceptance test
  // C(θ₀') ≤ C(θ*) − sufficient·½|λ|t² (sufficient = 0.1), with λ the step's Rayleigh quotient
  // within 0.1% of the Hessian's least eigenvalue.
  const esc = (await page.evaluate(() => window.pullback.lanes()))[0].events.find((e) => e.kind === 'escape');
  assert(esc && esc.cost_after === c2, `the readout ${c2} is not the escape's cost ${esc && esc.cost_after}`);
  assert(c2 <= c1 - 0.1 * 0.5 * Math.abs(esc.rayleigh) * esc.step * esc.step, `acceptance: ${c2}`);
  assert(Math.abs(esc.rayleigh - esc.hessian_min_eig) <= 1e-3 * Math.abs(esc.hessian_min_eig), `quotient ${esc.rayleigh} vs λ_min ${esc.hessian_min_eig}`);
  await page.waitForFunction(() => document.querySelector('[data-testid=critical-escape]').textContent.startsWith('Escape at s ='));
  await page.screenshot({ path: path.join(artifacts, 'critical-panel.png'), fullPage: true });
  // Playing on fits XOR; the automatic toggle writes escape=1 into the link.
  await page.click('[data-testid=play]');
  await waitState(page, ['paused'], 60000);
  assert(await value(page, 'cost') <= 1e-8, `after the escape the flow did not reach ε: ${await value(page, 'cost')}`);
  await page.check('[data-testid=escape-auto]');
  await page.waitForFunction(() => location.hash.includes('escape=1'));
  await context.close();
});

await test('a hand-built underparametrized net ends with a class; the table, the panel and the trace agree', async () => {
  // 2-2-3 tanh on three noisy blobs: K = 15 < QN = 108.
  const { page, context } = await open('#data=blobs&Q=3&N=36&noise=0.5&seed=2&net=2&act=tanh&flows=adapted&smax=4000&eps=none&speed=max&view=cost,outputs,critical');
  await waitState(page, ['ready']);
  await page.click('[data-testid=play]');
  await waitState(page, ['paused'], 120000);
  const cell = await page.evaluate(() => {
    const c = document.querySelector('#lanes tbody tr .rest');
    const r = document.querySelector('#lanes tbody tr .r');
    return { rest: c.dataset.rest, rank: r.dataset.rank, used: r.dataset.rankUsed };
  });
  const classes = ['global_minimum', 'regular_rest', 'rank_loss_rest', 'blow_up', 'moving'];
  assert(classes.includes(cell.rest), `the table shows no class: ${JSON.stringify(cell)}`);
  const end = await page.textContent('[data-testid=end-point]');
  assert(end.includes(`end point: ${cell.rest}`) || (cell.rest === 'moving' && end.includes('end point: moving')), `end-point line: ${end}`);
  // The downloaded trace says the same.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=download-trace]')]);
  const trace = JSON.parse(await fs.promises.readFile(await download.path(), 'utf8'));
  assert(trace.final.rest === cell.rest, `trace ${trace.final.rest} vs table ${cell.rest}`);
  assert(String(trace.final.rank) === cell.rank && String(trace.final.rank_used ?? '') === String(cell.used), `ranks: trace ${trace.final.rank}/${trace.final.rank_used}, table ${cell.rank}/${cell.used}`);
  assert(!['step_size', 'max_steps', 'non_finite'].includes(trace.final.reason), `ended by ${trace.final.reason}`);
  // At a rest point the panel describes the same class.
  if (cell.rest === 'regular_rest' || cell.rest === 'rank_loss_rest') {
    await page.waitForFunction(() => document.querySelector('[data-testid=critical-verdict]')?.textContent.startsWith('θ'), null, { timeout: 30000 });
    const verdict = await page.textContent('[data-testid=critical-verdict]');
    const want = cell.rest === 'regular_rest' ? 'θ* is a rest point of Thm 5.1' : 'θ* is a rest point of the DAE (4.5)';
    assert(verdict.startsWith(want), `panel: ${verdict}`);
  }
  figures.handBuilt = { rest: cell.rest, rank: trace.final.rank, rank_used: trace.final.rank_used, s: trace.final.s };
  await context.close();
});

await test('constructive minimizer: C = 0 to display precision, the flows stay above; the layer view steps through Q + 1 stages', async () => {
  const { page, context } = await open('#preset=non-approximability&flows=adapted,gd&h=0.5&view=cost,construct');
  await waitState(page, ['ready']);
  await page.waitForFunction(() => document.querySelector('[data-testid=readout-construct-cost]'), null, { timeout: 30000 });
  const cc = await readout(page, 'construct-cost');
  assert(cc.text === '0.000000', `constructive cost readout: ${cc.text}`);
  assert(cc.value <= 1e-20, `constructive cost ${cc.value}`);
  await page.click('[data-testid=play]');
  await page.waitForTimeout(3000);
  const rows = await page.$$eval('[data-testid=construct-table] tbody tr', (trs) => trs.map((tr) => ({
    name: tr.querySelector('.name').textContent, c: Number(tr.querySelector('.c').dataset.value), text: tr.querySelector('.c').textContent,
  })));
  assert(rows.length === 3 && rows[0].text === '0.000000', JSON.stringify(rows));
  for (const r of rows.slice(1)) assert(r.c > 1e-3 && r.text !== '0.000000', `${r.name} at C = ${r.c}`);
  figures.constructiveRows = rows.map((r) => `${r.name}: ${r.text}`);
  // Step through the layers: Q + 1 = 4 stages (inputs, then after each hidden layer), then the
  // output layer.
  await page.locator('[data-testid=construct-panel]').scrollIntoViewIfNeeded();
  const label = () => page.evaluate(() => {
    const l = document.querySelector('[data-testid=stage-label]');
    return { text: l.textContent, position: Number(l.dataset.position), positions: Number(l.dataset.positions) };
  });
  let l = await label();
  assert(l.position === 0 && l.positions === 5, JSON.stringify(l));
  const seen = [l.text];
  for (let i = 1; i < 5; i++) {
    await page.click('[data-testid=stage-next]');
    await page.waitForFunction((k) => Number(document.querySelector('[data-testid=stage-label]').dataset.position) === k, i);
    seen.push((await label()).text);
  }
  for (let k = 0; k < 4; k++) assert(seen[k].startsWith(`stage ${k} of 3`), `stage ${k}: ${seen[k]}`);
  assert(seen[4].startsWith('output layer (5 of 5)'), seen[4]);
  assert(await page.isDisabled('[data-testid=stage-next]'), 'next is enabled after the last stage');
  await page.waitForFunction(() => location.hash.includes('stage=4'));
  await page.waitForTimeout(400);
  assert(await inkOf(page, 'figure[data-view=construct] canvas') > 0.02, 'the layer view is blank');
  await page.click('[data-testid=stage-prev]');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=stage-label]').dataset.position) === 3);
  // Other widths the 2024 theorem allows (L ≥ Q_c, each ≥ Q_c − 1): the construction lives on
  // the loaded network.
  await page.fill('#layers input >> nth=0', '5');
  await page.waitForFunction(() => document.querySelector('[data-testid=construct-arch]').textContent.includes('[2, 5, 2, 2, 3]'), null, { timeout: 30000 });
  const fits = await page.textContent('[data-testid=construct-arch]');
  assert(fits.startsWith('The construction lives on the loaded network'), fits);
  assert((await readout(page, 'construct-cost')).text === '0.000000', 'C(θ_c) on widths 2,5,2,2,3');
  // Another activation: the panel names the reason and the architecture, one click restores it.
  await page.selectOption('#act', 'tanh');
  await page.waitForFunction(() => !document.querySelector('[data-testid=use-construct]').hidden, null, { timeout: 30000 });
  const arch = await page.textContent('[data-testid=construct-arch]');
  assert(arch.includes('built on ReLU widths [2, 5, 2, 2, 3]') && arch.includes('net.activation'), arch);
  await page.click('[data-testid=use-construct]');
  await page.waitForFunction(() => document.querySelector('[data-testid=use-construct]').hidden, null, { timeout: 30000 });
  assert((await page.evaluate(() => location.hash)).includes('act=relu'), 'the activation was not restored');
  await context.close();
});

await test('claims with their hypotheses: a flow at rest is named by its class, with the hypothesis that holds and the one that fails', async () => {
  // Gradient descent from this seed comes to rest (every hidden unit dies), the adapted flow does not.
  const { page, context } = await open('#preset=non-approximability-rest&flows=standard,adapted&view=cost,construct&speed=max');
  await waitState(page, ['ready']);
  await page.waitForFunction(() => document.querySelector('[data-testid=readout-construct-cost]'), null, { timeout: 30000 });
  await page.click('[data-testid=play]');
  await waitState(page, ['paused'], 120000);
  const lanes = await page.$$eval('#lanes tbody tr', (trs) => trs.map((tr) => ({
    name: tr.querySelector('.name').textContent, rest: tr.querySelector('.rest').dataset.rest,
  })));
  // The verdict is rebuilt with every frame; wait for the one that knows both end points.
  await page.waitForFunction((n) => (document.querySelector('[data-testid=construct-verdict]').textContent.match(/ is (at rest|not at rest|still running)/g) || []).length >= n && !document.querySelector('[data-testid=construct-verdict]').textContent.includes('still running'), lanes.length, { timeout: 30000 });
  const verdict = await page.textContent('[data-testid=construct-verdict]');
  const gd = lanes.find((l) => l.name.startsWith('standard'));
  assert(gd && gd.rest === 'rank_loss_rest', `the standard lane: ${JSON.stringify(lanes)}`);
  assert(verdict.includes(`${gd.name} is at rest (rank_loss_rest`), verdict);
  assert(verdict.includes("2311.07065 Thm 1.5's hypotheses hold here") && /rank 𝒫⊥ = QN − 3 = 87 ≥ QN − K = 63/.test(verdict), verdict);
  assert(verdict.includes("Thm 5.1's hypothesis rank D = K fails here, as everywhere on a relu network"), verdict);
  for (const l of lanes.filter((x) => x.rest === 'moving')) {
    assert(verdict.includes(`${l.name} is not at rest (moving`) && verdict.includes('the hypothesis of 2311.07065 Thm 1.5 (a rest point) fails'), verdict);
  }
  assert(verdict.includes("rank D[θ_c] = ") && verdict.includes("Thm 5.1's hypothesis rank D = K fails there"), verdict);
  figures.claims = { lanes, sentence: verdict.slice(verdict.indexOf(gd.name), verdict.indexOf(gd.name) + 360) };
  await context.close();
});

await test('the 2023 family: the μ slider keeps the displayed cost at 0.000000; a clicked input is classified', async () => {
  const { page, context } = await open('#preset=clustered-family&flows=standard&view=cost,construct');
  await waitState(page, ['ready']);
  await page.waitForFunction(() => document.querySelector('[data-testid=readout-construct-cost]') && !document.getElementById('mu-row').hidden, null, { timeout: 30000 });
  const hyp = await page.textContent('[data-testid=construct-hypotheses]');
  assert(hyp.startsWith('Chen–Muñoz Ewald 2023'), hyp);
  const range = await page.evaluate(() => { const m = document.getElementById('mu'); return [Number(m.min), Number(m.max)]; });
  assert(range[0] > 0 && range[1] > range[0] && range[1] <= 1, `slider range ${range}`);
  const mus = [0, 0.25, 0.5, 0.75, 1].map((f) => range[0] + f * (range[1] - range[0]));
  const shown = [];
  for (const mu of mus) {
    const before = await page.textContent('[data-testid=mu-text]');
    await page.evaluate((v) => {
      const m = document.getElementById('mu');
      m.value = String(v);
      m.dispatchEvent(new Event('input', { bubbles: true }));
    }, mu);
    // The worker answers with θ(μ): the slider's text names the new μ̲.
    await page.waitForFunction((b) => document.querySelector('[data-testid=mu-text]').textContent !== b, before, { timeout: 30000 }).catch(() => {});
    const cc = await readout(page, 'construct-cost');
    shown.push(cc.text);
    assert(cc.text === '0.000000', `C(θ(μ)) at μ = ${mu}: ${cc.text}`);
    assert(cc.value <= 1e-20, `C(θ(μ)) at μ = ${mu}: ${cc.value}`);
  }
  figures.muSliderCosts = shown;
  assert(/mu=[\d.]+/.test(await page.evaluate(() => location.hash)), 'the hash keeps μ');
  // A click on the input plane (stage 0) near class 2's mean (0.5, 2): matched to y2, with d.
  await page.locator('[data-testid=construct-panel]').scrollIntoViewIfNeeded();
  await page.waitForTimeout(300);
  const canvas = page.locator('figure[data-view=construct] canvas');
  const box = await canvas.boundingBox();
  const px = await page.evaluate(() => window.pullback.pixelOf('construct', 0.5, 2.0));
  assert(px, 'the layer view was not drawn');
  await page.mouse.click(box.x + px[0], box.y + px[1]);
  await page.waitForFunction(() => document.querySelector('[data-testid=construct-probe]').textContent.includes('matched to'), null, { timeout: 30000 });
  const probe = await page.textContent('[data-testid=construct-probe]');
  assert(probe.includes('matched to y2') && /d = [\d.e-]+/.test(probe), probe);
  figures.classifiedProbe = probe.slice(0, 120);
  await page.screenshot({ path: path.join(artifacts, 'clustered-family.png'), fullPage: true });
  await context.close();
});

await test('the weighted cost: the cost key reloads, the split V + B sums to C under the collapse figure', async () => {
  const { page, context } = await open('#preset=weighted-cost&flows=adapted,standard&view=cost,collapse&speed=20');
  await waitState(page, ['ready']);
  assert(await page.inputValue('[data-testid=cost-kind]') === 'weighted', 'the cost selector');
  await page.click('[data-testid=play]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=split-table] tbody tr').length === 2, null, { timeout: 30000 });
  await page.waitForTimeout(1000);
  const checks = await page.$$eval('[data-testid=split-table] tbody tr .k', (tds) => tds.map((td) => Number(td.textContent)));
  for (const c of checks) assert(c <= 1e-12, `|V + B − C|/C = ${c}`);
  assert((await page.textContent('[data-testid=split-verdict]')).startsWith('Weighted cost'), 'split verdict');
  await page.selectOption('[data-testid=cost-kind]', 'mean');
  await page.waitForFunction(() => !location.hash.includes('cost=weighted'), null, { timeout: 30000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=split-verdict]').textContent.startsWith('Mean cost'), null, { timeout: 30000 });
  await context.close();
});

await test('outputs against t and the homotopy family: the adapted flow stays on the straight line', async () => {
  const { page, context } = await open('#preset=over-smooth&flows=adapted,standard&view=reparam,homotopy&speed=20');
  await waitState(page, ['ready']);
  await page.click('[data-testid=play]');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=s]').dataset.value) > 30, null, { timeout: 60000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=readout-offline-adapted]'));
  const a = await readout(page, 'offline-adapted');
  const s = await readout(page, 'offline-standard');
  figures.offTheLine = { adapted: a.value, standard: s.value };
  assert(a.value < 1e-6, `adapted off the straight interpolation by ${a.value}`);
  assert(s.value > 1e-2, `standard off it by only ${s.value}`);
  const rows = await page.$$eval('[data-testid=family-table] tbody tr', (trs) => trs.map((tr) => tr.querySelector('.name').textContent));
  assert(rows.length === 5 && rows[0] === 'α = 0 (standard)' && rows[4] === 'α = 1 (adapted)', rows.join(', '));
  assert(await inkOf(page, 'figure[data-view=homotopy] canvas') > 0.02, 'the homotopy figure is blank');
  // Hiding the view stops the family in the worker.
  await page.uncheck('input.view[value=homotopy]');
  await page.waitForTimeout(300);
  await context.close();
});

// The benchmark's M scenario (2-64-64-2 tanh, 200 moons, init scale 3: full rank at θ₀) on the
// page at full speed, with `integrator` (undefined: the page's default RK45), for 10 s: its
// steps/s in the worker, s reached, evaluations per step and the spectrum's lag are figures.
async function mOnPage(integrator, key) {
  const scenario = {
    seed: 1, data: { kind: 'moons', n: 200, noise: 0.1 },
    net: { widths: [2, 64, 64, 2], activation: 'tanh' }, init: { kind: 'gaussian', scale: 3 },
  };
  if (integrator) scenario.integrator = integrator;
  const b64 = Buffer.from(JSON.stringify(scenario)).toString('base64url');
  const { page, context } = await open(`#scenario=${b64}&flows=adapted&speed=max&view=cost,outputs,spectrum`, { longtasks: true });
  await waitState(page, ['ready']);
  assert(await page.textContent('[data-testid=regime]').then((t) => /over/i.test(t)), 'regime badge is not "over"');
  // Settle first (the previous test's page may still be torn down in the same renderer).
  await page.waitForTimeout(2000);
  const t0 = await page.evaluate(() => performance.now());
  const c0 = await value(page, 'cost');
  await page.click('[data-testid=play]');
  await waitState(page, ['running']);
  await page.waitForTimeout(10000);
  const lane = (await page.evaluate(() => window.pullback.lanes()))[0];
  const tasks = (await page.evaluate(() => window.__longtasks)).filter((t) => t.start >= t0);
  const c1 = await value(page, 'cost');
  figures[key] = {
    adaptedStepsPerSecond: Math.round(lane.steps_per_s * 10) / 10,
    steps: lane.steps,
    evalsPerStep: Math.round((lane.evals / Math.max(lane.steps, 1)) * 100) / 100,
    sAfter10s: await value(page, 's'),
    longtasksMs: tasks.map((t) => Math.round(t.duration)),
    // The spectrum (rank, σ, 𝒫) of the samples runs on a time budget in the worker: its lag.
    spectrumAgeS: lane.spectrum_age,
    rankCell: await page.textContent('#lanes tbody tr .r'),
  };
  assert(lane.steps > 0 && c1 < c0, `M did not advance: ${lane.steps} steps, C ${c0} → ${c1}`);
  assert(tasks.length === 0, `long tasks on the page while M runs: ${figures[key].longtasksMs.join(', ')} ms`);
  await context.close();
}

await test('the bench M network (K = 4482, QN = 400) on the page, RK45: the adapted flow runs, no long task over 50 ms (steps/s printed)', async () => {
  await mOnPage(undefined, 'mPageRk45');
});

await test('the bench M network on the page with the benchmark\'s own integrator (RK4, h = 0.2): no long task over 50 ms (steps/s printed)', async () => {
  await mOnPage({ kind: 'rk4', h: 0.2 }, 'mPageRk4');
});

await test('the bench Mr network (M at init scale 1: rank D = 364 < QN = 400) on the page: no long task over 50 ms (steps/s printed)', async () => {
  // What `net=64,64`, `N=200` gives: the rank-deficient adapted field, the SVD path.
  const scenario = {
    seed: 1, data: { kind: 'moons', n: 200, noise: 0.1 },
    net: { widths: [2, 64, 64, 2], activation: 'tanh' },
  };
  const b64 = Buffer.from(JSON.stringify(scenario)).toString('base64url');
  const { page, context } = await open(`#scenario=${b64}&flows=adapted&speed=max&view=cost,outputs,spectrum`, { longtasks: true });
  await waitState(page, ['ready']);
  // Settle first: the previous test's page (the M network, hundreds of MB of wasm memory) may
  // still be torn down in the same renderer process (one 61 ms task once in ten runs, while every
  // handler of this page took < 20 ms after play).
  await page.waitForTimeout(2000);
  const t0 = await page.evaluate(() => performance.now());
  await page.click('[data-testid=play]');
  await waitState(page, ['running']);
  await page.waitForTimeout(15000);
  const lane = (await page.evaluate(() => window.pullback.lanes()))[0];
  const tasks = (await page.evaluate(() => window.__longtasks)).filter((t) => t.start >= t0);
  figures.mrPageAdaptedStepsPerSecond = Math.round(lane.steps_per_s * 100) / 100;
  figures.mrPageStepsIn15s = lane.steps;
  figures.mrPageRank = { rank: lane.rank, rank_used: lane.rank_used };
  figures.mrPageLongtasksMs = tasks.map((t) => Math.round(t.duration));
  assert(tasks.length === 0, `long tasks on the page while Mr runs: ${tasks.map((t) => `${Math.round(t.duration)} ms at ${Math.round(t.start - t0)} ms after play`).join(', ')}`);
  await context.close();
});

await test('30 s run with every flow and view: still running after 30 s, no console error (the page\'s long tasks printed)', async () => {
  const { page, context } = await open(
    '#preset=over-smooth&flows=adapted,standard,gd,homotopy&speed=4&view=network,cost,outputs,spectrum,boundary,collapse,singular,reparam,homotopy,critical,construct,eigenmodes',
    { viewport: { width: 1400, height: 5200 }, longtasks: true },
  );
  await waitState(page, ['ready']);
  // Let the first drawing of every figure settle, then time the run alone.
  await page.waitForTimeout(1000);
  const t0 = await page.evaluate(() => performance.now());
  await page.click('[data-testid=play]');
  await waitState(page, ['running']);
  await page.waitForTimeout(30000);
  const st = await state(page);
  const all = await page.evaluate(() => window.__longtasks);
  const tasks = all.filter((t) => t.start >= t0);
  const loading = all.filter((t) => t.start < t0);
  figures.loadLongtasksMs = loading.map((t) => Math.round(t.duration));
  const draw = await page.evaluate(() => window.pullback.drawCost());
  figures.slowestHandler = await page.evaluate(() => window.pullback.slowest());
  const lanes = await page.evaluate(() => window.pullback.lanes());
  await page.screenshot({ path: path.join(artifacts, 'all-flows-30s.png'), fullPage: true });
  details.runLongtasksOver50ms = tasks.map((t) => `${Math.round(t.duration)} ms at +${((t.start - t0) / 1000).toFixed(1)} s`);
  figures.runLongtasks = `${tasks.length} over 50 ms, ${tasks.filter((t) => t.duration > 100).length} over 100 ms in 30 s (list in e2e-figures.json)`;
  figures.runLongestTaskMs = Math.round(tasks.reduce((m, t) => Math.max(m, t.duration), 0));
  figures.drawMs = Object.fromEntries(Object.entries(draw).map(([k, v]) => [k, Math.round(v * 10) / 10]));
  figures.stepsPerSecondAllFlows = Object.fromEntries(lanes.map((l, i) => [['adapted', 'standard', 'gd', 'homotopy'][i], Math.round(l.steps_per_s)]));
  figures.sAfter30s = await value(page, 's');
  assert(st === 'running', `state after 30 s: ${st}`);
  await context.close();
});

await browser.close();
server.close();

const wasmName = fs.readdirSync(path.join(dist, 'www/pkg')).find((f) => /^pullback_bg\.[0-9a-f]{10}\.wasm$/.test(f));
const wasm = fs.readFileSync(path.join(dist, 'www/pkg', wasmName));
figures.wasmBytes = wasm.length;
figures.wasmGzipBytes = zlib.gzipSync(wasm, { level: 9 }).length;
console.log('\nmeasured:');
for (const [k, v] of Object.entries(figures)) console.log(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
fs.writeFileSync(path.join(artifacts, 'e2e-figures.json'), JSON.stringify({ ...figures, ...details }, null, 2));
const failed = results.filter((r) => !r.ok);
console.log(`\ne2e: ${results.length - failed.length} passed, ${failed.length} failed`);
for (const f of failed) console.log(`  ${f.name}\n    ${f.error.stack.split('\n').slice(0, 3).join('\n    ')}`);
process.exit(failed.length ? 1 : 0);
