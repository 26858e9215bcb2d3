#!/usr/bin/env node
// End-to-end tests of the story at a glance (issue 14) on the built site, served on 127.0.0.1 and
// driven in Debian chromium with playwright-core, like run.mjs: the one-screen layout at 1440×900
// on three presets, the network diagram's +/− buttons, the eigenmode slopes, a live h change and
// the rewind, the boundary's resolution. Prints the measured figures (positions, slopes, grids);
// durations are printed, never asserted. Exits 1 if any test failed.
// Env: E2E_ONLY=regex runs the matching tests only; E2E_PORT=n serves on that port (else a free one).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve.mjs';
import { launch, recordLongtasks, ErrorWatch } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.join(root, 'dist');
const artifacts = path.join(root, 'test-artifacts');
fs.mkdirSync(artifacts, { recursive: true });
if (!fs.existsSync(path.join(dist, 'index.html'))) {
  console.error('glance e2e: dist/index.html is missing; run ./build.sh first');
  process.exit(2);
}

const server = await serve(dist, Number(process.env.E2E_PORT || 0));
const base = `http://127.0.0.1:${server.address().port}/`;
const browser = await launch();
const figures = {};
const results = [];
let watches = [];

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function open(hash, { viewport = { width: 1400, height: 1000 }, longtasks = false, storage = null } = {}) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  watches.push(new ErrorWatch(page));
  if (longtasks) await recordLongtasks(page);
  if (storage) await page.addInitScript((s) => { for (const [k, v] of Object.entries(s)) localStorage.setItem(k, v); }, storage);
  await page.goto(`${base}?test${hash}`);
  return { page, context };
}

const state = (page) => page.evaluate(() => document.body.dataset.state);
const value = async (page, testid) => Number(await page.getAttribute(`[data-testid=${testid}]`, 'data-value'));
const waitState = (page, states, timeout = 30000) => page.waitForFunction(
  (s) => s.includes(document.body.dataset.state), states, { timeout },
);
const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;

async function test(name, fn) {
  if (only && !only.test(name)) return;
  const t0 = Date.now();
  watches = [];
  try {
    await fn();
    for (const w of watches) w.check();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

async function downloadTrace(page, lane) {
  await page.selectOption('#trace-lane', String(lane));
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=download-trace]')]);
  return { name: dl.suggestedFilename(), json: JSON.parse(fs.readFileSync(await dl.path(), 'utf8')) };
}

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

// ---------------------------------------------------------------- one screen

// The headline of each preset: the flows' table, the network diagram, cost, outputs and the panel
// the preset is about, each wholly inside the 1440×900 window without scrolling.
const HEADLINE = ['#lanes', 'figure[data-view=network]', 'figure[data-view=cost]', 'figure[data-view=outputs]'];
const boxes = (page, selectors) => page.evaluate((sels) => Object.fromEntries(sels.map((s) => {
  const el = document.querySelector(s);
  const r = el ? el.getBoundingClientRect() : null;
  return [s, r && r.width > 0 ? [r.left, r.top, r.right, r.bottom].map(Math.round) : null];
})), selectors);
function inside(b, what) {
  const out = Object.entries(b).filter(([, r]) => !r || r[0] < 0 || r[1] < 0 || r[2] > 1440 || r[3] > 900);
  assert(out.length === 0, `${what}: outside the 1440×900 window: ${out.map(([s, r]) => `${s} ${JSON.stringify(r)}`).join(', ')}`);
}

for (const [preset, panel, flows] of [
  ['over-smooth', null, 'adapted,standard'],
  ['constructive', 'figure[data-view=construct]', null],
  ['under-stationary', 'figure[data-view=homotopy]', null],
]) {
  await test(`one screen at 1440×900: ${preset} shows its headline${panel ? ' and its panel' : ''} without scrolling`, async () => {
    const { page, context } = await open(`#preset=${preset}${flows ? `&flows=${flows}` : ''}`, { viewport: { width: 1440, height: 900 } });
    await waitState(page, ['ready']);
    await page.waitForTimeout(300);
    const b = await boxes(page, panel ? [...HEADLINE, panel] : HEADLINE);
    (figures.onScreen ??= {})[preset] = b;
    inside(b, preset);
    assert(await page.evaluate(() => window.scrollY) === 0, 'the page scrolled by itself');
    assert(await page.getAttribute(`[data-preset=${preset}]`, 'aria-pressed') === 'true', 'the preset\'s card is not the pressed one');
    await page.screenshot({ path: path.join(artifacts, `one-screen-${preset}.png`) });
    await context.close();
  });
}

await test('one screen at 1440×900: softplus-trapped comes to rest and its critical panel is in the window', async () => {
  const { page, context } = await open('#preset=softplus-trapped&flows=standard&escape=0', { viewport: { width: 1440, height: 900 } });
  await waitState(page, ['ready']);
  await page.click('[data-testid=play]');
  await waitState(page, ['paused'], 60000);
  await page.waitForFunction(() => document.querySelector('[data-testid=readout-rank]'), null, { timeout: 30000 });
  await page.waitForTimeout(800);
  const b = await boxes(page, [...HEADLINE, 'figure[data-view=critical]', '[data-testid=critical-verdict]']);
  figures.onScreen['softplus-trapped'] = b;
  inside(b, 'softplus-trapped at rest');
  assert(await page.evaluate(() => window.scrollY) === 0, 'the page had to scroll');
  await page.screenshot({ path: path.join(artifacts, 'one-screen-softplus-trapped.png') });
  await context.close();
});

await test('a rest point on a preset about something else: the critical panel appears after the headline, in the window', async () => {
  // The trapped XOR with the critical view off: when the flow rests the panel is added, placed
  // right after the headline, and brought into the window.
  const { page, context } = await open('#preset=softplus-trapped&flows=standard&escape=0&view=network,cost,outputs,spectrum,boundary,singular', { viewport: { width: 1440, height: 900 } });
  await waitState(page, ['ready']);
  await page.click('[data-testid=play]');
  await waitState(page, ['paused'], 60000);
  await page.waitForFunction(() => document.querySelector('[data-testid=readout-rank]'), null, { timeout: 30000 });
  await page.waitForTimeout(1200);
  const b = await boxes(page, ['figure[data-view=critical]']);
  figures.onScreen.criticalAdded = b;
  inside(b, 'the added critical panel');
  const order = await page.evaluate(() => Number(document.querySelector('figure[data-view=critical]').style.order));
  assert(order === 4, `the critical panel's order ${order}, not right after the headline`);
  await context.close();
});

await test('the explanation is open the first time and stays as the user left it; cards choose presets', async () => {
  const { page, context } = await open('#preset=over-smooth', { viewport: { width: 1440, height: 900 } });
  await waitState(page, ['ready']);
  assert(await page.evaluate(() => document.getElementById('explain-fold').open), 'closed on the first visit');
  await page.click('#explain-fold > summary');
  assert(!(await page.evaluate(() => document.getElementById('explain-fold').open)), 'did not fold');
  await page.reload();
  await waitState(page, ['ready']);
  assert(!(await page.evaluate(() => document.getElementById('explain-fold').open)), 'folded state not remembered');
  const story = await page.textContent('[data-preset=borderline] span');
  assert(story.length > 10 && story.length <= 80, `story: ${story}`);
  await page.click('[data-preset=borderline]');
  await page.waitForFunction(() => location.hash.includes('preset=borderline'));
  // borderline has K = QN = 12.
  await page.waitForFunction(() => window.pullback.info() && window.pullback.info().k === 12, null, { timeout: 30000 });
  assert(await page.getAttribute('[data-preset=borderline]', 'aria-pressed') === 'true', 'pressed card');
  await context.close();
});

// ---------------------------------------------------------------- the diagram, modes, tune, boundary

await test('the network diagram: its neuron count follows the +/− and layer buttons, a unit hovers its weights', async () => {
  const { page, context } = await open('#preset=over-smooth');
  await waitState(page, ['ready']);
  const net = 'figure[data-view=network]';
  const widths = () => page.getAttribute(net, 'data-widths');
  const waitWidths = (w) => page.waitForFunction(([sel, want]) => document.querySelector(sel).dataset.widths === want, [net, w], { timeout: 30000 });
  await waitWidths('2,16,16,2');
  assert(await page.getAttribute(net, 'data-hidden-units') === '32', 'hidden units of 16,16');
  assert(await inkOf(page, `${net} canvas`) > 0.05, 'the diagram is blank');
  await page.click('[data-testid=net-plus-1]');
  await waitWidths('2,17,16,2');
  assert(await page.getAttribute(net, 'data-hidden-units') === '33', `after + : ${await page.getAttribute(net, 'data-hidden-units')}`);
  assert((await page.evaluate(() => location.hash)).includes('net=17,16'), 'the hash did not follow');
  // K = Σ M_l M_{l−1} + M_l for 2-17-16-2.
  const k = [[2, 17], [17, 16], [16, 2]].reduce((a, [i, o]) => a + i * o + o, 0);
  assert((await page.textContent('[data-testid=regime]')).includes(`K = ${k} `), await page.textContent('[data-testid=regime]'));
  assert(await page.inputValue('#layers input >> nth=0') === '17', 'the width field did not follow');
  await page.click('[data-testid=net-minus-2]');
  await waitWidths('2,17,15,2');
  await page.click('[data-testid=net-remove-1]');
  await waitWidths('2,15,2');
  await page.click('[data-testid=net-add-layer]');
  await waitWidths('2,15,8,2');
  assert(await page.getAttribute(net, 'data-hidden-units') === '23', 'after the layer buttons');
  // Hovering a unit reads its bias and weights.
  await page.waitForTimeout(300);
  const col = await page.evaluate((sel) => {
    const b = document.querySelector(`${sel} .net-controls .col`);
    const r = b.getBoundingClientRect();
    return [r.left + r.width / 2, r.bottom];
  }, net);
  let tip = '';
  for (let dy = 6; dy < 60 && !/hidden layer 1: bias/.test(tip); dy += 3) {
    for (const dx of [-14, 0, 14]) {
      await page.mouse.move(col[0] + dx, col[1] + dy);
      tip = (await page.isVisible('#tooltip')) ? await page.textContent('#tooltip') : '';
      if (/hidden layer 1: bias/.test(tip)) break;
    }
  }
  assert(/of hidden layer 1: bias -?[\d.]+, \|w_in\| = /.test(tip), `tooltip over a unit: ${tip}`);
  await page.screenshot({ path: path.join(artifacts, 'network.png') });
  await context.close();
});

await test('eigenmodes: the adapted curves share one slope −1/N to 1e-6 on over-smooth, the standard ones do not', async () => {
  const { page, context } = await open('#preset=over-smooth&flows=adapted,standard&view=eigenmodes,cost&autoplay=1');
  await waitState(page, ['running']);
  await waitState(page, ['paused'], 90000);
  await page.waitForFunction(() => document.querySelector('[data-testid=readout-slope-min-standard]'), null, { timeout: 30000 });
  const n = await page.evaluate(() => window.pullback.info().n);
  const lo = await readout(page, 'slope-min-adapted');
  const hi = await readout(page, 'slope-max-adapted');
  const slo = await readout(page, 'slope-min-standard');
  const shi = await readout(page, 'slope-max-standard');
  figures.eigenmodeSlopes = { adapted: [lo.value, hi.value], standard: [slo.value, shi.value], minusOneOverN: -1 / n };
  // tests/eigenmodes.rs derives the 1e-6 from the measured integration error.
  for (const v of [lo.value, hi.value]) assert(Math.abs(v + 1 / n) <= 1e-6, `adapted slope ${v} vs −1/N = ${-1 / n}`);
  assert(shi.value - slo.value > 1e3 * 2e-6, `standard slopes ${slo.value} … ${shi.value} do not differ`);
  const verdict = await page.textContent('[data-testid=modes-verdict]');
  assert(verdict.includes('exact, no linearization') && verdict.includes('linearized at θ0'), verdict);
  await page.locator('[data-testid=eigenmodes]').scrollIntoViewIfNeeded();
  await page.waitForTimeout(500);
  assert(await inkOf(page, 'figure[data-view=eigenmodes] canvas') > 0.03, 'the eigenmode figure is blank');
  await page.screenshot({ path: path.join(artifacts, 'eigenmodes.png'), fullPage: true });
  await context.close();
});

await test('a live h change goes on without a reset, and Rewind goes back to θ₀ with it', async () => {
  const { page, context } = await open('#preset=over-smooth&flows=adapted,gd&h=0.05&speed=2&view=cost,network');
  await waitState(page, ['ready']);
  const c0 = await value(page, 'cost');
  const epoch = await page.evaluate(() => window.pullback.info().epoch);
  await page.click('[data-testid=play]');
  await waitState(page, ['running']);
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=s]').dataset.value) > 1.5, null, { timeout: 30000 });
  await page.fill('#h', '0.1');
  await page.waitForFunction(() => window.pullback.info().lanes[1].label === 'gradient descent h=0.1', null, { timeout: 10000 });
  const s1 = await value(page, 's');
  assert(await page.evaluate(() => window.pullback.info().epoch) === epoch, 'the run was reloaded');
  assert(s1 > 1.5, `s went back to ${s1}`);
  assert(await state(page) === 'running', `state after the change: ${await state(page)}`);
  assert((await page.textContent('#lanes tbody tr:nth-child(2) .name')) === 'gradient descent h=0.1', 'table name');
  await page.waitForFunction((s) => Number(document.querySelector('[data-testid=s]').dataset.value) > s + 1, s1, { timeout: 30000 });
  await page.click('[data-testid=pause]');
  await waitState(page, ['paused']);
  const { json } = await downloadTrace(page, 1);
  const tune = json.events.filter((e) => e.kind === 'tune');
  assert(tune.length === 1 && tune[0].parameter === 'h' && tune[0].value === 0.1 && tune[0].previous === 0.05, JSON.stringify(tune));
  assert(json.scenario.integrator.h === 0.05, 'the trace\'s scenario should keep the starting h');
  // The gd samples after the change lie on the grid of s = s_change + k·0.1.
  assert(tune[0].s > 1.5 && tune[0].s <= s1 + 1e-9, `tune at s = ${tune[0].s}, readout ${s1}`);
  // Rewind: θ₀ again (same C(0)), h = 0.1 kept, in the hash too.
  await page.click('[data-testid=reset]');
  await waitState(page, ['ready']);
  assert(await value(page, 's') === 0, 'rewind did not return to s = 0');
  assert(await value(page, 'cost') === c0, `C after rewind ${await value(page, 'cost')} vs C(0) = ${c0}`);
  assert(await page.evaluate(() => window.pullback.info().lanes[1].label) === 'gradient descent h=0.1', 'rewind lost h');
  assert((await page.evaluate(() => location.hash)).includes('h=0.1'), 'hash');
  await context.close();
});

await test('the decision boundary at screen resolution: the grid follows the canvas and refines when paused', async () => {
  const { page, context } = await open('#preset=over-smooth&flows=adapted&view=boundary,cost&speed=5', { longtasks: true });
  await waitState(page, ['ready']);
  const canvas = await page.evaluate(() => {
    const c = document.querySelector('figure[data-view=boundary] canvas');
    return Math.min(c.width, c.height);
  });
  await page.waitForFunction(() => window.pullback.heatSize() > 0, null, { timeout: 30000 });
  const rest = await page.evaluate(() => window.pullback.heatSize());
  await page.click('[data-testid=play]');
  await waitState(page, ['running']);
  await page.waitForTimeout(2000);
  const running = await page.evaluate(() => window.pullback.heatSize());
  await page.click('[data-testid=pause]');
  await waitState(page, ['paused']);
  await page.waitForFunction((r) => window.pullback.heatSize() === r, rest, { timeout: 10000 });
  const draw = await page.evaluate(() => window.pullback.drawCost().boundary);
  figures.boundaryGrid = { canvasPx: canvas, paused: rest, running, drawMs: Math.round(draw * 10) / 10 };
  // The page asks for half the canvas's device pixels; over-smooth's 2-16-16-2 fits the paused
  // budget (170² points · 320 multiply-adds < 4e7) and not the running one (4e6).
  const want = Math.max(48, Math.min(400, Math.round(canvas / 2)));
  assert(rest === want, `paused grid ${rest} for a ${canvas} px canvas (want ${want})`);
  assert(rest > 48 && running <= rest, `grids: paused ${rest}, running ${running}`);
  assert(await inkOf(page, 'figure[data-view=boundary] canvas') > 0.5, 'the boundary is not filled');
  await context.close();
});


await browser.close();
server.close();
console.log('\nmeasured:');
for (const [k, v] of Object.entries(figures)) console.log(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
fs.writeFileSync(path.join(artifacts, 'e2e-glance.json'), JSON.stringify(figures, null, 2));
const failed = results.filter((r) => !r.ok);
console.log(`\nglance e2e: ${results.length - failed.length} passed, ${failed.length} failed`);
for (const f of failed) console.log(`  ${f.name}\n    ${f.error.stack.split('\n').slice(0, 3).join('\n    ')}`);
process.exit(failed.length ? 1 : 0);
