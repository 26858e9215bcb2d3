#!/usr/bin/env node
// The example deck (examples/slides/, reveal.js from node_modules) in chromium: moving through the
// slides, an embed plays only on its slide and pauses when it is left, resumes where it was, fits
// its frame, answers getState; the arrow keys move the deck after a click into an embed, and Esc
// gives the keyboard back. Then the deck's print view (?print-pdf) prints every frame with its
// figures. Serves the repository root (the deck loads ../../dist/ and ../../node_modules/), so run
// ./build.sh and npm ci first. Every page and frame is watched for console errors (ErrorWatch).
// Env: E2E_ONLY=regex, E2E_PORT=n (else a free port).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../../scripts/serve.mjs';
import { launch, ErrorWatch } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(root, 'test-artifacts');
fs.mkdirSync(artifacts, { recursive: true });
for (const need of ['dist/index.html', 'node_modules/reveal.js/dist/reveal.js', 'examples/slides/index.html']) {
  if (!fs.existsSync(path.join(root, need))) {
    console.error(`slides e2e: ${need} is missing (./build.sh, npm ci)`);
    process.exit(2);
  }
}

const server = await serve(root, Number(process.env.E2E_PORT || 0));
const deckUrl = `http://127.0.0.1:${server.address().port}/examples/slides/`;
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

async function openDeck(query = '') {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  watches.push(new ErrorWatch(page));
  const t0 = Date.now();
  await page.goto(deckUrl + query);
  await page.waitForFunction(() => window.Reveal && window.Reveal.isReady());
  figures.deckReadyMs = Date.now() - t0;
  // The deck page asks the embeds over the embed API, as a deck script would.
  await page.evaluate(() => {
    window.answers = {};
    addEventListener('message', (e) => { if (e.data && e.data.pullback === 1 && 'id' in e.data) window.answers[e.data.id] = e.data; });
    let next = 1;
    window.ask = (testid, method, args) => new Promise((resolve) => {
      const id = next++;
      document.querySelector(`[data-testid=${testid}]`).contentWindow.postMessage({ pullback: 1, id, method, args }, '*');
      const t = Date.now();
      const poll = () => (window.answers[id] ? resolve(window.answers[id]) : Date.now() - t > 20000 ? resolve(null) : setTimeout(poll, 20));
      poll();
    });
  });
  return { page, context };
}

const EMBEDS = ['embed-smooth', 'embed-trapped', 'embed-constructive'];
const frameOf = async (page, testid) => (await page.$(`[data-testid=${testid}]`)).contentFrame();
const stateOf = async (page, testid) => {
  const f = await frameOf(page, testid);
  if (!f || f.url() === 'about:blank' || !f.url().includes('/dist/')) return 'unloaded';
  return f.evaluate(() => (document.body ? document.body.dataset.state : 'unloaded')).catch(() => 'unloaded');
};
const ask = (page, testid, method, args) => page.evaluate(([t, m, a]) => window.ask(t, m, a), [testid, method, args]);
const slideIndex = (page) => page.evaluate(() => window.Reveal.getIndices().h);
const waitSlide = (page, h) => page.waitForFunction((i) => window.Reveal.getIndices().h === i && !document.querySelector('.reveal .slides section.present[style*="transition"]'), h);
// Waits inside a frame poll on a timer: an off-screen frame gets no animation frames, which
// playwright's default polling waits for.
const until = (target, fn, arg = null, opts = {}) => target.waitForFunction(fn, arg, { polling: 100, ...opts });
const waitFrameState = async (page, testid, states, timeout = 30000) => {
  const f = await frameOf(page, testid);
  await until(f, (s) => document.body && s.includes(document.body.dataset.state), states, { timeout });
};

// What does not fit inside a frame: scrollbars, or content beyond the frame's viewport.
const fitProblems = (frame) => frame.evaluate(() => {
  const de = document.documentElement;
  const out = [];
  if (de.scrollWidth > de.clientWidth || de.scrollHeight > de.clientHeight) out.push(`scrollbars ${de.scrollWidth}×${de.scrollHeight} in ${de.clientWidth}×${de.clientHeight}`);
  for (const el of document.querySelectorAll('#plots figure:not([hidden]) canvas, #plots figure:not([hidden]) .panel-text')) {
    const r = el.getBoundingClientRect();
    if (r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5) out.push(`${el.tagName} reaches ${Math.round(r.right)},${Math.round(r.bottom)}`);
    if (el.classList.contains('panel-text') && (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)) out.push(`panel text cut off ${el.scrollWidth}×${el.scrollHeight} in ${el.clientWidth}×${el.clientHeight}`);
  }
  return out;
});

await test('the deck: an embed plays only on its slide, pauses when left and resumes, fits its frame, answers getState; arrows move the deck after a click into an embed, Esc gives the keys back', async () => {
  const { page, context } = await openDeck();
  assert(await slideIndex(page) === 0, 'the deck did not start on its title slide');
  // The title slide: the preloaded embeds wait (their frames are off screen), none took the focus.
  await page.waitForTimeout(1500);
  for (const id of EMBEDS) {
    const st = await stateOf(page, id);
    assert(st !== 'running', `${id} runs on the title slide`);
  }
  assert(await page.evaluate(() => document.activeElement === document.body), 'an embed took the focus');
  // → slide 1: its embed (autoplay=1) starts, the next one does not.
  await page.keyboard.press('ArrowRight');
  await waitSlide(page, 1);
  await waitFrameState(page, 'embed-smooth', ['running', 'paused'], 20000);
  const f1 = await frameOf(page, 'embed-smooth');
  figures.firstEmbedPlayingMs = Date.now();
  let a = await ask(page, 'embed-smooth', 'getState');
  assert(a && a.result && a.result.flows.map((f) => f.name).join(',') === 'adapted,gd', `getState: ${JSON.stringify(a)}`);
  await page.waitForFunction(() => true);
  assert(await stateOf(page, 'embed-trapped') !== 'running', 'the second embed runs on the first slide');
  const fit1 = await fitProblems(f1);
  assert(fit1.length === 0, `embed-smooth does not fit its frame: ${fit1.join('; ')}`);
  await page.screenshot({ path: path.join(artifacts, 'slides-1.png') });
  // A click into the embed takes the keyboard; the arrow keys still move the deck (the embed
  // passes them on) and the embed pauses as its slide is left.
  const box = await page.locator('[data-testid=embed-smooth]').boundingBox();
  await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.6);
  assert(await f1.evaluate(() => document.hasFocus()), 'the click did not focus the embed');
  await page.keyboard.press('ArrowRight');
  await waitSlide(page, 2);
  await waitFrameState(page, 'embed-smooth', ['paused']);
  const s1 = (await ask(page, 'embed-smooth', 'getState')).result.s;
  assert(s1 > 0, `the first embed never ran: s = ${s1}`);
  // Slide 2: the trapped preset plays to its rest point; the first embed stays where it was.
  await waitFrameState(page, 'embed-trapped', ['running', 'paused'], 20000);
  await page.waitForTimeout(800);
  assert((await ask(page, 'embed-smooth', 'getState')).result.s === s1, 'the first embed moved while its slide was not shown');
  const f2 = await frameOf(page, 'embed-trapped');
  await until(f2, () => document.querySelector('[data-testid=readout-rank]'), null, { timeout: 60000 });
  const fit2 = await fitProblems(f2);
  assert(fit2.length === 0, `embed-trapped does not fit its frame: ${fit2.join('; ')}`);
  await page.screenshot({ path: path.join(artifacts, 'slides-2.png') });
  // Click into the second embed, Esc: the deck has the keyboard again, ArrowLeft goes back.
  const box2 = await page.locator('[data-testid=embed-trapped]').boundingBox();
  await page.mouse.click(box2.x + box2.width * 0.8, box2.y + box2.height * 0.5);
  assert(await f2.evaluate(() => document.hasFocus()), 'the click did not focus the second embed');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.hasFocus());
  await page.keyboard.press('ArrowLeft');
  await waitSlide(page, 1);
  // Back on slide 1: the first embed resumes from where it paused (or has ended since).
  await waitFrameState(page, 'embed-smooth', ['running', 'paused']);
  await page.waitForFunction(async () => true);
  await page.waitForTimeout(1200);
  const back = (await ask(page, 'embed-smooth', 'getState')).result;
  assert(back.s > s1 || back.flows.every((f) => f.status !== 'running'), `the first embed did not resume: s ${s1} → ${back.s}`);
  assert(back.s >= s1, `the first embed started over: s ${s1} → ${back.s}`);
  // Pause it over the API, then on to the constructive slide (keys on the deck itself).
  a = await ask(page, 'embed-smooth', 'pause');
  assert(a && a.result, JSON.stringify(a));
  await page.keyboard.press('ArrowRight');
  await waitSlide(page, 2);
  await page.keyboard.press('ArrowRight');
  await waitSlide(page, 3);
  await waitFrameState(page, 'embed-constructive', ['ready', 'paused', 'running'], 20000);
  const f3 = await frameOf(page, 'embed-constructive');
  await until(f3, () => document.querySelector('[data-testid=readout-construct-cost]'), null, { timeout: 30000 });
  await page.waitForTimeout(500);
  const fit3 = await fitProblems(f3);
  assert(fit3.length === 0, `embed-constructive does not fit its frame: ${fit3.join('; ')}`);
  assert(await stateOf(page, 'embed-trapped') !== 'running', 'the second embed runs on the third slide');
  a = await ask(page, 'embed-constructive', 'getState');
  assert(a && a.result && a.result.state === 'ready', `constructive getState: ${JSON.stringify(a)}`);
  await page.screenshot({ path: path.join(artifacts, 'slides-3.png') });
  await context.close();
});

await test('the deck printed (?print-pdf): every frame shows its figures as images, none blank', async () => {
  const { page, context } = await openDeck('?print-pdf');
  await page.waitForFunction(() => document.documentElement.classList.contains('print-pdf') && document.querySelectorAll('.pdf-page').length >= 4, null, { timeout: 20000 });
  // Print view loads every slide; each frame draws its initial state.
  for (const id of EMBEDS) {
    await waitFrameState(page, id, ['ready', 'running', 'paused'], 30000);
    const f = await frameOf(page, id);
    await until(f, () => [...document.querySelectorAll('#plots figure:not([hidden]) canvas')].every((c) => c.width > 8));
    // Listening after the page: the page's own listener has run when this one does.
    // Each canvas must hold its figure when printing starts (a PDF made at once prints the canvas
    // while its image loads).
    await f.evaluate(() => {
      window.printed = [];
      window.ink = [];
      addEventListener('beforeprint', () => {
        window.printed.push([...document.querySelectorAll('img.print-image')].filter((i) => i.src.startsWith('data:image/png')).length);
        for (const c of document.querySelectorAll('#plots figure:not([hidden]) canvas')) {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) n++;
          window.ink.push(n / (c.width * c.height));
        }
      });
    });
  }
  await page.waitForTimeout(1000);
  const pdf = await page.pdf({ printBackground: true, preferCSSPageSize: true });
  fs.writeFileSync(path.join(artifacts, 'slides.pdf'), pdf);
  figures.deckPdfBytes = pdf.length;
  for (const id of EMBEDS) {
    const f = await frameOf(page, id);
    const printed = await f.evaluate(() => window.printed);
    const shown = await f.evaluate(() => document.querySelectorAll('#plots figure:not([hidden])').length);
    assert(printed.length === 1 && printed[0] === shown, `${id}: beforeprint ${printed.length} times, ${printed} images for ${shown} figures`);
    const ink = await f.evaluate(() => window.ink);
    assert(ink.length === shown && ink.every((x) => x > 0.01), `${id}: canvases at beforeprint: ink ${ink}`);
  }
  await context.close();
});

await browser.close();
server.close();
console.log('\nmeasured:');
for (const [k, v] of Object.entries(figures)) if (k !== 'firstEmbedPlayingMs') console.log(`  ${k}: ${v}`);
const failed = results.filter((r) => !r.ok);
console.log(`\nslides e2e: ${results.length - failed.length} passed, ${failed.length} failed`);
for (const f of failed) console.log(`  ${f.name}\n    ${f.error.stack.split('\n').slice(0, 3).join('\n    ')}`);
process.exit(failed.length ? 1 : 0);
