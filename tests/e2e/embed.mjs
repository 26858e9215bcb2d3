#!/usr/bin/env node
// End-to-end tests of the page in other people's pages: the embed API over postMessage from a
// page of another origin, the holds (off screen, hidden tab, reveal.js' slide messages), focus,
// every view in embeds of 640×360 … 1920×1080, print, a phone-sized screen, and the built site
// served from a sub-path. Run after ./build.sh. Screenshots go to
// test-artifacts/embed-<size>-<view>.png; durations are printed, never asserted; every test fails
// on a console error of any page or frame it opened (ErrorWatch).
// Env: E2E_ONLY=regex runs the matching tests; E2E_PORT=n serves dist/ on n and the host pages on
// n + 1 (else free ports).
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve.mjs';
import { launch, ErrorWatch } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = path.join(root, 'dist');
const artifacts = path.join(root, 'test-artifacts');
fs.mkdirSync(artifacts, { recursive: true });
if (!fs.existsSync(path.join(dist, 'index.html'))) {
  console.error('e2e: dist/index.html is missing; run ./build.sh first');
  process.exit(2);
}

// The page on one origin, the pages that frame it on another (another port): the embed API is
// exercised across origins, as a deck on another host would use it.
const port = Number(process.env.E2E_PORT || 0);
const hosts = fs.mkdtempSync(path.join(os.tmpdir(), 'pullback-hosts-'));
const server = await serve(dist, port);
// The same build under the hosts' origin too, for a frame that must share its parent's origin.
fs.symlinkSync(dist, path.join(hosts, 'app'), 'dir');
const hostServer = await serve(hosts, port ? port + 1 : 0);
const base = `http://127.0.0.1:${server.address().port}/`;
const hostBase = `http://127.0.0.1:${hostServer.address().port}/`;
const browser = await launch();

const figures = {};
const results = [];
let watches = [];
const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY) : null;

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

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

async function newPage({ viewport = { width: 1280, height: 800 }, scale = 1 } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: scale });
  const page = await context.newPage();
  watches.push(new ErrorWatch(page));
  return { page, context };
}

// Waits inside a frame poll on a timer: an off-screen frame gets no animation frames, which
// playwright's default polling waits for.
const until = (target, fn, arg = null, opts = {}) => target.waitForFunction(fn, arg, { polling: 100, ...opts });
const waitState = (target, states, timeout = 30000) => until(
  target, (s) => document.body && s.includes(document.body.dataset.state), states, { timeout },
);

// A host page (on the other origin) framing the page at `hash`; it records the embed's events
// and answers and offers call(method, args) and send(raw message).
function hostPage(name, hash, { width = 800, height = 450, below = 3000 } = {}) {
  const html = `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>host</title></head>
<body style="margin:0">
<iframe id="embed" src="${base}${hash}" width="${width}" height="${height}" style="border:0;display:block" title="Pullback"></iframe>
<div style="height:${below}px"></div>
<script>
  window.events = [];
  window.answers = {};
  window.keys = [];
  window.deck = [];
  addEventListener('message', (e) => {
    const d = e.data;
    if (typeof d === 'string') { window.deck.push(d); return; }
    if (!d || d.pullback !== 1) return;
    if (d.event) window.events.push(d);
    else window.answers[d.id] = d;
  });
  document.addEventListener('keydown', (e) => window.keys.push(e.key));
  let next = 1;
  const frame = () => document.getElementById('embed').contentWindow;
  const wait = (id) => new Promise((resolve) => {
    const t0 = Date.now();
    const poll = () => (id in window.answers ? resolve(window.answers[id]) : Date.now() - t0 > 30000 ? resolve(null) : setTimeout(poll, 20));
    poll();
  });
  window.call = (method, args) => { const id = next++; frame().postMessage({ pullback: 1, id, method, args }, '*'); return wait(id); };
  window.send = (msg, id) => { frame().postMessage(msg, '*'); return id === undefined ? null : wait(id); };
</script></body></html>`;
  fs.writeFileSync(path.join(hosts, name), html);
  return hostBase + name;
}

async function openHost(name, hash, opts = {}) {
  const { page, context } = await newPage(opts.viewport ? { viewport: opts.viewport } : {});
  await page.goto(hostPage(name, hash, opts));
  const frame = await (await page.$('#embed')).contentFrame();
  await page.waitForFunction(() => window.events.some((e) => e.event === 'ready'), null, { timeout: 30000 });
  return { page, context, frame };
}

const events = (page, kind) => page.evaluate((k) => window.events.filter((e) => e.event === k), kind);
const call = (page, method, args) => page.evaluate(([m, a]) => window.call(m, a), [method, args]);
const sendRaw = (page, msg, id) => page.evaluate(([m, i]) => window.send(m, i), [msg, id]);
const waitEvent = (page, pred, timeout = 30000) => page.waitForFunction(
  (p) => window.events.some(new Function('e', `return ${p}`)), pred, { timeout },
);

// ---------------------------------------------------------------- the API

await test('embed API: getState, play, pause, step, reset and set from another origin; events ready, state, ended', async () => {
  const { page, context, frame } = await openHost('api.html', '#preset=over-smooth&flows=adapted,gd&h=0.1&view=cost&embed=1&speed=10');
  const ready = (await events(page, 'ready'))[0];
  assert(ready.state.state === 'ready' && ready.state.s === 0, `ready: ${JSON.stringify(ready.state)}`);
  let a = await call(page, 'getState');
  assert(a && a.pullback === 1 && a.id === 1 && a.result, `getState answer: ${JSON.stringify(a)}`);
  const st = a.result;
  assert(st.state === 'ready' && st.s === 0, JSON.stringify(st));
  assert(st.flows.map((f) => f.name).join(',') === 'adapted,gd', `flows: ${JSON.stringify(st.flows)}`);
  assert(st.flows.every((f) => f.s === 0 && Number.isFinite(f.cost) && f.cost > 0 && f.status === 'running'), JSON.stringify(st.flows));
  // play: the run starts, 'state' events report it, the costs fall.
  a = await call(page, 'play');
  assert(a.result && !a.error, JSON.stringify(a));
  await waitEvent(page, "e.event === 'state' && e.state.state === 'running' && e.state.s > 0");
  await page.waitForTimeout(600);
  a = await call(page, 'pause');
  await until(frame, () => document.body.dataset.state === 'paused');
  a = await call(page, 'getState');
  const paused = a.result;
  assert(paused.state === 'paused' && paused.s > 0, JSON.stringify(paused));
  assert(paused.flows.every((f, i) => f.cost < st.flows[i].cost), `costs did not fall: ${JSON.stringify(paused.flows)}`);
  // step: one sample interval further.
  a = await call(page, 'step');
  await page.waitForFunction((s) => window.events.some((e) => e.event === 'state' && e.state.s > s), paused.s);
  a = await call(page, 'getState');
  assert(a.result.s > paused.s, `step did not move s: ${a.result.s}`);
  // reset: back to s = 0.
  await call(page, 'reset');
  await until(frame, () => document.body.dataset.state === 'ready');
  a = await call(page, 'getState');
  assert(a.result.s === 0, `reset: s = ${a.result.s}`);
  // set: URL-hash keys, applied as the hash would be; answered once the worker has them.
  a = await call(page, 'set', { h: 0.05, flows: 'adapted,standard,gd', speed: 'max' });
  assert(a.result && !a.error, JSON.stringify(a));
  assert(a.result.flows.map((f) => f.name).join(',') === 'adapted,standard,gd', JSON.stringify(a.result));
  const hash = await frame.evaluate(() => location.hash);
  assert(hash.includes('h=0.05') && hash.includes('flows=adapted,standard,gd') && hash.includes('speed=max'), hash);
  // A preset and a boolean: the borderline preset ends within a second; 'ended' follows.
  a = await call(page, 'set', { preset: 'borderline', flows: 'adapted', autoplay: false });
  assert(a.result && a.result.flows.length === 1, JSON.stringify(a));
  assert((await frame.evaluate(() => location.hash)).startsWith('#preset=borderline'), 'preset not applied');
  await call(page, 'play');
  await waitEvent(page, "e.event === 'ended'");
  const ended = (await events(page, 'ended')).pop();
  assert(ended.state.flows[0].status === 'cost_below', `ended: ${JSON.stringify(ended.state)}`);
  figures.apiEvents = Object.fromEntries(['ready', 'state', 'ended'].map((k) => [k, 0]));
  for (const e of await page.evaluate(() => window.events)) figures.apiEvents[e.event] += 1;
  await context.close();
});

await test('embed API: malformed messages get an error naming the field, never an exception', async () => {
  const { page, context, frame } = await openHost('bad.html', '#preset=borderline&flows=adapted&view=cost&embed=1');
  const cases = [
    [{ pullback: 1, id: 'a', method: 'fly' }, 'a', 'method'],
    [{ pullback: 1, id: 'b' }, 'b', 'method'],
    [{ pullback: 1, id: 'c', method: 'play', args: 5 }, 'c', 'args'],
    [{ pullback: 1, id: 'd', method: 'set', args: 'h=0.1' }, 'd', 'args'],
    [{ pullback: 1, id: 'e', method: 'set', args: { h: NaN } }, 'e', 'args.h'],
    [{ pullback: 1, id: 'f', method: 'set', args: { h: 'abc' } }, 'f', 'args.h'],
    [{ pullback: 1, id: 'g', method: 'set', args: { N: 12, bogus: 1 } }, 'g', 'args.bogus'],
    [{ pullback: 1, id: 'h', method: 'set', args: { net: [16, 16] } }, 'h', 'args.net'],
    [{ pullback: 2, id: 'i', method: 'play' }, 'i', 'pullback'],
    [{ pullback: 1, id: NaN, method: 'getState' }, null, 'id'],
    ['{"pullback": 1, "id": "j", "method": "getState"', null, 'message'],
  ];
  for (const [msg, id, field] of cases) {
    // An answer with id null is the latest one of those.
    await page.evaluate(() => { delete window.answers.null; });
    const a = await sendRaw(page, msg, id);
    assert(a && a.error && a.error.field === field && typeof a.error.message === 'string',
      `${JSON.stringify(msg)}: ${JSON.stringify(a)}`);
    if (field.startsWith('args.')) assert(a.error.message.includes(field.slice(5)), `message does not name ${field}: ${a.error.message}`);
  }
  // Nothing was applied by the refused set calls.
  const hash = await frame.evaluate(() => location.hash);
  assert(!hash.includes('N=12') && !hash.includes('bogus'), `a refused set changed the settings: ${hash}`);
  // JSON text meant for us works; other people's messages get no answer.
  const j = await sendRaw(page, '{"pullback": 1, "id": "k", "method": "getState"}', 'k');
  assert(j && j.result && j.result.state === 'ready', JSON.stringify(j));
  await page.evaluate(() => { window.answerCount = Object.keys(window.answers).length; });
  await sendRaw(page, 'hello');
  await sendRaw(page, { method: 'play' });
  await sendRaw(page, '{"method":"right","args":[]}');
  await page.waitForTimeout(400);
  assert(await page.evaluate(() => Object.keys(window.answers).length === window.answerCount), 'a foreign message was answered');
  assert(await frame.evaluate(() => document.body.dataset.state) === 'ready', 'a foreign message started the run');
  await context.close();
});

await test('holds: off screen, hidden tab and reveal.js slide messages pause the run, which resumes where it was', async () => {
  const { page, context, frame } = await openHost('holds.html', '#preset=over-smooth&flows=adapted,standard&view=cost&embed=1&speed=5');
  // Never takes the focus on load.
  assert(await page.evaluate(() => document.activeElement === document.body), 'the embed took the focus on load');
  await call(page, 'play');
  await until(frame, () => document.body.dataset.state === 'running');
  const sNow = async () => (await call(page, 'getState')).result.s;
  // Scrolled out of view: paused; back in view: running again from where it was.
  await page.evaluate(() => window.scrollTo(0, 2500));
  await until(frame, () => document.body.dataset.state === 'paused', null, { timeout: 10000 });
  const s1 = await sNow();
  await page.waitForTimeout(500);
  assert(await sNow() === s1, 'the run moved while off screen');
  await page.evaluate(() => window.scrollTo(0, 0));
  await until(frame, () => document.body.dataset.state === 'running', null, { timeout: 10000 });
  await page.waitForFunction((s) => window.events.some((e) => e.event === 'state' && e.state.s > s), s1);
  assert(await sNow() > s1, 'did not resume');
  // reveal.js' messages: slide:stop pauses, slide:start resumes.
  await sendRaw(page, 'slide:stop');
  await until(frame, () => document.body.dataset.state === 'paused');
  const s2 = await sNow();
  await sendRaw(page, 'slide:start');
  await until(frame, () => document.body.dataset.state === 'running');
  // A hidden tab (the frame's visibility, as the browser reports it on a tab switch).
  await frame.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await until(frame, () => document.body.dataset.state === 'paused');
  await frame.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await until(frame, () => document.body.dataset.state === 'running');
  assert(await sNow() >= s2, 'resumed from an earlier s');
  // A run the user paused stays paused when the frame comes back into view.
  await call(page, 'pause');
  await until(frame, () => document.body.dataset.state === 'paused');
  await page.evaluate(() => window.scrollTo(0, 2500));
  await page.waitForTimeout(300);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(800);
  assert(await frame.evaluate(() => document.body.dataset.state) === 'paused', 'a paused run started by itself');
  await context.close();
});

await test('autoplay=1 in a frame that starts off screen waits until it is seen', async () => {
  const { page, context, frame } = await openHost('late.html', '#preset=borderline&flows=adapted&view=cost&embed=1&autoplay=1&speed=1', { below: 0 });
  // The host puts the frame below a tall block: move it there before the run can start.
  await page.evaluate(() => {
    const spacer = document.createElement('div');
    spacer.style.height = '3000px';
    document.body.prepend(spacer);
  });
  await page.waitForTimeout(800);
  const state = await frame.evaluate(() => document.body.dataset.state);
  // The frame may have been seen before the spacer went in: then it plays, and off screen it pauses.
  assert(state === 'ready' || state === 'paused', `off screen with autoplay=1 the page is ${state}`);
  await page.evaluate(() => document.getElementById('embed').scrollIntoView());
  await until(frame, () => document.body.dataset.state === 'running' || document.body.dataset.state === 'paused' && Number(document.querySelector('[data-testid=s]').dataset.value) > 0, null, { timeout: 10000 });
  await context.close();
});

await test('focus: a click inside takes the keys, Esc gives them back to the page around it; arrows reach a reveal.js parent', async () => {
  const { page, context, frame } = await openHost('focus.html', '#preset=borderline&flows=adapted&view=cost&embed=1');
  await page.keyboard.press('ArrowRight');
  assert((await page.evaluate(() => window.keys)).includes('ArrowRight'), 'keys did not reach the host before any click');
  const box = await page.locator('#embed').boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  assert(await frame.evaluate(() => document.hasFocus()), 'the click did not focus the embed');
  await page.evaluate(() => { window.keys = []; window.deck = []; });
  await page.keyboard.press('ArrowRight');
  // Inside, the deck's arrows travel to the parent as reveal.js API calls.
  await page.waitForFunction(() => window.deck.includes('{"method":"right","args":[]}'));
  assert((await page.evaluate(() => window.keys)).length === 0, 'the key reached the host while the embed had the focus');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.hasFocus());
  assert(!(await frame.evaluate(() => document.hasFocus())), 'the embed kept the focus after Esc');
  await page.keyboard.press('ArrowLeft');
  assert((await page.evaluate(() => window.keys)).includes('ArrowLeft'), 'keys did not reach the host after Esc');
  await context.close();
});

// ---------------------------------------------------------------- every view at four sizes

const SIZES = [[640, 360], [960, 540], [1280, 720], [1920, 1080]];
// Each view with a scenario that shows it, and what to do before looking.
const VIEWS = [
  ['cost', '#preset=over-smooth&flows=adapted,standard&view=cost', 'run'],
  ['outputs', '#preset=over-smooth&flows=adapted,standard&view=outputs', 'run'],
  ['spectrum', '#preset=over-smooth&flows=adapted,standard&view=spectrum', 'run'],
  ['boundary', '#preset=over-smooth&flows=adapted,standard&view=boundary', 'run'],
  ['collapse', '#preset=over-smooth&flows=adapted,standard,gd&view=collapse', 'run'],
  ['singular', '#preset=softplus-trapped&flows=standard&view=singular&escape=0', 'end'],
  ['reparam', '#preset=over-smooth&flows=adapted,standard&view=reparam', 'run'],
  ['homotopy', '#preset=under-stationary&flows=adapted&view=homotopy', 'run'],
  ['critical', '#preset=softplus-trapped&flows=standard&view=critical&escape=0', 'critical'],
  ['construct', '#preset=constructive&view=construct&stage=2', 'construct'],
  ['two views', '#preset=over-smooth&flows=adapted,standard&view=cost,outputs', 'run'],
  ['panel and figure', '#preset=softplus-trapped&flows=standard&view=cost,critical&escape=0', 'critical'],
];

// What overflows in an embed: scrollbars, an element beyond the viewport, a panel's text cut off,
// a canvas whose backing store is not its on-screen size.
function embedProblems() {
  const out = [];
  const vw = window.innerWidth;
  const vh = window.innerHeight;
  const de = document.documentElement;
  if (de.scrollWidth > de.clientWidth || de.scrollHeight > de.clientHeight) out.push(`scrollbars: ${de.scrollWidth}×${de.scrollHeight} in ${de.clientWidth}×${de.clientHeight}`);
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const inside = (el, what) => {
    const r = el.getBoundingClientRect();
    if (r.left < -0.5 || r.top < -0.5 || r.right > vw + 0.5 || r.bottom > vh + 0.5) out.push(`${what} at ${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)} leaves the ${vw}×${vh} frame`);
  };
  for (const el of document.querySelectorAll('#toolbar button, #toolbar output, #plots figure, #plots figcaption, #plots canvas')) {
    if (visible(el)) inside(el, el.tagName.toLowerCase() + (el.closest('figure') ? `[${el.closest('figure').dataset.view}]` : ''));
  }
  for (const el of document.querySelectorAll('#plots .panel-text')) {
    if (!visible(el)) continue;
    inside(el, `panel text [${el.closest('figure').dataset.view}]`);
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) out.push(`panel text [${el.closest('figure').dataset.view}] cut off: ${el.scrollWidth}×${el.scrollHeight} in ${el.clientWidth}×${el.clientHeight}`);
    for (const child of el.querySelectorAll('p, dl, table, .row')) {
      if (visible(child) && child.getBoundingClientRect().height > 0) inside(child, `${child.id || child.className} [${el.closest('figure').dataset.view}]`);
    }
  }
  for (const c of document.querySelectorAll('#plots canvas')) {
    if (!visible(c)) continue;
    const r = c.getBoundingClientRect();
    const k = window.devicePixelRatio;
    if (Math.abs(c.width - r.width * k) > 1.5 || Math.abs(c.height - r.height * k) > 1.5) out.push(`canvas ${c.width}×${c.height} for ${r.width}×${r.height} CSS px at ratio ${k}`);
    if (r.height < 100 || r.width < 150) out.push(`canvas only ${Math.round(r.width)}×${Math.round(r.height)} CSS px`);
  }
  return out;
}

const inkOf = (page, selector) => page.evaluate((sel) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) n++;
  return n / (c.width * c.height);
}, selector);

for (const [name, hash, prepare] of VIEWS) {
  await test(`embed=1 with ${name} fits frames of ${SIZES.map((s) => s.join('×')).join(', ')}`, async () => {
    const [w0, h0] = SIZES[0];
    const { page, context } = await newPage({ viewport: { width: w0, height: h0 } });
    const t0 = Date.now();
    await page.goto(`${base}?test${hash}&embed=1&speed=max`);
    await waitState(page, ['ready']);
    if (prepare === 'run') {
      await page.click('[data-testid=play]');
      await page.waitForFunction(() => Number(document.querySelector('[data-testid=s]').dataset.value) > 20 || document.body.dataset.state === 'paused', null, { timeout: 30000 });
      await page.evaluate(() => document.querySelector('[data-testid=pause]').click());
      await waitState(page, ['paused']);
    } else if (prepare === 'end' || prepare === 'critical') {
      await page.click('[data-testid=play]');
      await waitState(page, ['paused'], 60000);
      if (prepare === 'critical') await page.waitForFunction(() => document.querySelector('[data-testid=readout-rank]'), null, { timeout: 30000 });
    } else if (prepare === 'construct') {
      await page.waitForFunction(() => document.querySelector('[data-testid=readout-construct-cost]'), null, { timeout: 30000 });
    }
    const problems = [];
    for (const [w, h] of SIZES) {
      await page.setViewportSize({ width: w, height: h });
      // Let the resize observers size the canvases and the draw loop draw them.
      await page.waitForTimeout(500);
      await page.waitForFunction(() => [...document.querySelectorAll('#plots figure:not([hidden]) canvas')].every((c) => c.width > 8));
      await page.waitForTimeout(300);
      for (const p of await page.evaluate(embedProblems)) problems.push(`${w}×${h}: ${p}`);
      for (const view of await page.evaluate(() => [...document.querySelectorAll('#plots figure:not([hidden])')].map((f) => f.dataset.view))) {
        const ink = await inkOf(page, `figure[data-view="${view}"] canvas`);
        if (!(ink > 0.01)) problems.push(`${w}×${h}: the ${view} canvas is blank (ink ${ink.toFixed(4)})`);
      }
      await page.screenshot({ path: path.join(artifacts, `embed-${w}x${h}-${name.replace(/ /g, '-')}.png`) });
    }
    figures[`embed ${name}`] = `${((Date.now() - t0) / 1000).toFixed(1)} s for ${SIZES.length} sizes`;
    assert(problems.length === 0, problems.join('; '));
    await context.close();
  });
}

await test('a deck scales its slides: canvases follow the on-screen size of a same-origin frame', async () => {
  // The frame is 480×270 in its page, drawn at twice that by a CSS transform (as reveal.js scales
  // slides): the backing store must follow the on-screen size.
  fs.writeFileSync(path.join(hosts, 'scaled.html'), `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body style="margin:0">
<div style="transform: scale(2); transform-origin: 0 0; width: 480px"><iframe id="f" src="app/?test#preset=borderline&amp;flows=adapted&amp;view=cost&amp;embed=1" width="480" height="270" style="border:0"></iframe></div></body></html>`);
  const { page, context } = await newPage({ viewport: { width: 1200, height: 800 } });
  await page.goto(`${hostBase}scaled.html`);
  const frame = await (await page.$('#f')).contentFrame();
  await waitState(frame, ['ready']);
  await until(frame, () => {
    const c = document.querySelector('figure[data-view=cost] canvas');
    return c.width >= 2 * c.getBoundingClientRect().width - 2;
  }, null, { timeout: 5000 });
  const [w, css] = await frame.evaluate(() => {
    const c = document.querySelector('figure[data-view=cost] canvas');
    return [c.width, c.getBoundingClientRect().width];
  });
  figures.scaledFrameCanvas = `${w} device px for ${css} CSS px under scale(2)`;
  assert(Math.abs(w - 2 * css) <= 2, `canvas ${w} px for ${css} CSS px under a 2× transform`);
  await context.close();
});

// ---------------------------------------------------------------- print

await test('print: every figure becomes a static image of its current state, and back after printing', async () => {
  const { page, context } = await newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${base}?test#preset=over-smooth&flows=adapted,standard&view=cost,outputs,spectrum,boundary,collapse,singular&speed=5`);
  await waitState(page, ['ready']);
  await page.click('[data-testid=play]');
  await page.waitForTimeout(1500);
  await page.evaluate(() => document.querySelector('[data-testid=pause]').click());
  await waitState(page, ['paused']);
  // The print media query turning on swaps the images in (its change event comes with the next
  // rendering update).
  await page.emulateMedia({ media: 'print' });
  await page.waitForFunction(() => document.querySelectorAll('figure.printed img.print-image').length === 6);
  const shown = await page.evaluate(() => [...document.querySelectorAll('#plots figure:not([hidden])')].map((f) => {
    const img = f.querySelector('img.print-image');
    const c = f.querySelector('canvas');
    return {
      view: f.dataset.view,
      img: img ? { w: img.naturalWidth, h: img.naturalHeight, shown: getComputedStyle(img).display !== 'none', src: img.src.slice(0, 22) } : null,
      canvas: { w: c.width, h: c.height, shown: getComputedStyle(c).display !== 'none' },
    };
  }));
  assert(shown.length === 6, `${shown.length} figures`);
  for (const s of shown) {
    assert(s.img && s.img.shown && !s.canvas.shown, `${s.view}: ${JSON.stringify(s)}`);
    assert(s.img.src === 'data:image/png;base64,', `${s.view}: ${s.img.src}`);
    assert(s.img.w === s.canvas.w && s.img.h === s.canvas.h, `${s.view}: image ${s.img.w}×${s.img.h} for canvas ${s.canvas.w}×${s.canvas.h}`);
  }
  // The images hold the figures (not blank), the state of the paused run.
  const inks = await page.evaluate(() => Promise.all([...document.querySelectorAll('img.print-image')].map(async (img) => {
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) n++;
    return n / (c.width * c.height);
  })));
  figures.printImageInk = inks.map((x) => Math.round(x * 1000) / 1000);
  assert(inks.every((x) => x > 0.01), `blank print images: ${inks}`);
  await page.screenshot({ path: path.join(artifacts, 'print-media.png'), fullPage: true });
  await page.emulateMedia({ media: 'screen' });
  await page.waitForFunction(() => document.querySelectorAll('img.print-image').length === 0, null, { timeout: 5000 });
  // Printing for real (Chromium's PDF, with the print media of a real print) fires beforeprint
  // and afterprint around it.
  await page.emulateMedia({ media: null });
  // Listening after the page: at this listener the page's own has run. Each shown canvas must then
  // hold its figure (a PDF made at once prints the canvas while the image loads), also the ones
  // below the fold, which the draw loop had skipped.
  await page.evaluate(() => {
    window.printEvents = [];
    window.printInk = [];
    addEventListener('beforeprint', () => {
      window.printEvents.push(`before:${document.querySelectorAll('img.print-image').length}`);
      for (const c of document.querySelectorAll('#plots figure:not([hidden]) canvas')) {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) n++;
        window.printInk.push(n / (c.width * c.height));
      }
    });
    addEventListener('afterprint', () => window.printEvents.push('after'));
  });
  const pdf = await page.pdf({ printBackground: true });
  fs.writeFileSync(path.join(artifacts, 'print.pdf'), pdf);
  const ev = await page.evaluate(() => window.printEvents);
  figures.printPdfBytes = pdf.length;
  assert(ev[0] === 'before:6' && ev[1] === 'after', `print events (images at beforeprint): ${ev}`);
  const ink = await page.evaluate(() => window.printInk);
  figures.printCanvasInk = ink.map((x) => Math.round(x * 1000) / 1000);
  assert(ink.length === 6 && ink.every((x) => x > 0.01), `canvases at beforeprint: ink ${ink}`);
  await context.close();
});

await test('print inside a frame: the framed page swaps in its images when the page around it prints', async () => {
  const { page, context, frame } = await openHost('print.html', '#preset=over-smooth&flows=adapted,standard&view=cost,outputs&embed=1');
  await call(page, 'play');
  await page.waitForTimeout(1000);
  await call(page, 'pause');
  // Listening after the page: the page's own listener has run when this one does.
  await frame.evaluate(() => { window.printed = []; addEventListener('beforeprint', () => window.printed.push(document.querySelectorAll('img.print-image').length)); });
  const pdf = await page.pdf();
  const n = await frame.evaluate(() => window.printed);
  figures.framePrintImages = n;
  assert(n.length === 1 && n[0] === 2, `the frame saw beforeprint ${n.length} times with ${n} images`);
  assert(pdf.length > 10000, `PDF of ${pdf.length} bytes`);
  await context.close();
});

// ---------------------------------------------------------------- phones, sub-paths

await test('a phone (390×844): no horizontal overflow, the plots before the editor', async () => {
  const { page, context } = await newPage({ viewport: { width: 390, height: 844 }, scale: 3 });
  await page.goto(`${base}?test#preset=softplus-trapped&flows=standard&view=cost,critical,construct,homotopy&escape=0`);
  await waitState(page, ['ready']);
  await page.click('[data-testid=play]');
  await waitState(page, ['paused'], 60000);
  await page.waitForTimeout(500);
  const m = await page.evaluate(() => {
    const wide = [...document.querySelectorAll('body *')].filter((el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.right > window.innerWidth + 0.5 && getComputedStyle(el).position !== 'fixed';
    }).map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.split(' ')[0]}` : ''} (${Math.round(el.getBoundingClientRect().right)})`);
    return {
      scrollWidth: document.documentElement.scrollWidth,
      bodyWidth: document.body.getBoundingClientRect().width,
      plotsTop: document.getElementById('plots').getBoundingClientRect().top,
      editorTop: document.getElementById('editor').getBoundingClientRect().top,
      wide: wide.slice(0, 8),
    };
  });
  figures.phone = { scrollWidth: m.scrollWidth, bodyWidth: m.bodyWidth };
  await page.screenshot({ path: path.join(artifacts, 'phone-390.png'), fullPage: true });
  assert(m.scrollWidth <= 390 && m.bodyWidth <= 390, `the page is ${m.scrollWidth} px wide (body ${m.bodyWidth}); too wide: ${m.wide.join(', ')}`);
  assert(m.wide.length === 0, `elements beyond the right edge: ${m.wide.join(', ')}`);
  assert(m.plotsTop < m.editorTop, `the editor (top ${m.editorTop}) comes before the plots (top ${m.plotsTop})`);
  await context.close();
});

await test('dist/ works from a sub-path, with content-hashed asset names', async () => {
  // Every asset but the pages carries a 10-hex-digit hash in its name.
  const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
  const unhashed = walk(dist).filter((f) => !f.endsWith('.html') && !/\.[0-9a-f]{10}\.(js|css|wasm)$/.test(f));
  assert(unhashed.length === 0, `assets without a content hash: ${unhashed.join(', ')}`);
  // The parent of dist/ served as the site: the page lives at /dist/.
  const parent = await serve(path.dirname(dist), 0);
  try {
    const { page, context } = await newPage();
    const failed = [];
    page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
    await page.goto(`http://127.0.0.1:${parent.address().port}/dist/?test#preset=borderline&flows=adapted&autoplay=1`);
    await waitState(page, ['running', 'paused']);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=s]').dataset.value) > 0);
    assert(failed.length === 0, `failed requests: ${failed.join(', ')}`);
    await page.goto(`http://127.0.0.1:${parent.address().port}/dist/bench.html`);
    await page.waitForLoadState('load');
    assert(failed.length === 0, `failed requests on the bench page: ${failed.join(', ')}`);
    await context.close();
  } finally {
    parent.close();
  }
});

await browser.close();
server.close();
hostServer.close();
// The link to dist/ goes first: removing the folder must not reach through it.
fs.unlinkSync(path.join(hosts, 'app'));
fs.rmSync(hosts, { recursive: true, force: true });

console.log('\nmeasured:');
for (const [k, v] of Object.entries(figures)) console.log(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
const failed = results.filter((r) => !r.ok);
console.log(`\nembed e2e: ${results.length - failed.length} passed, ${failed.length} failed`);
for (const f of failed) console.log(`  ${f.name}\n    ${f.error.stack.split('\n').slice(0, 3).join('\n    ')}`);
process.exit(failed.length ? 1 : 0);
