// The benchmark page: runs the selected scenarios one by one in a module worker, shows each table
// as it arrives and merges the reports into one JSON (the format of `pullback bench --json`).
// A worker that dies is restarted and the run reports which scenario it lost.
import { TEST, workerUrl } from './js/testing.js';

const $ = (id) => document.getElementById(id);
const form = $('bench-form');
const runButton = $('bench-run');
const downloadButton = $('bench-download');
const status = $('bench-status');
const table = $('bench-table');
const ratio = $('bench-ratio');
let native = null; // a loaded `pullback bench --json` report

let worker = null;
let pending = null; // { id, resolve, reject }
let nextId = 1;
let merged = null;

function say(text, kind = 'info') {
  status.textContent = text;
  status.dataset.kind = kind;
}

function setState(s) {
  document.body.dataset.state = s;
  runButton.disabled = s !== 'ready';
}

function startWorker() {
  setState('loading');
  worker = new Worker(workerUrl('./bench-worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (event) => {
    const m = event.data;
    if (m.type === 'warming') {
      say(`${restartNote}Warming up (the browser compiles the module's hot loops on first use)…`, restartNote ? 'error' : 'info');
      return;
    }
    if (m.type === 'ready') {
      restarts = 0;
      setState('ready');
      say(`${restartNote}Ready.`, restartNote ? 'error' : 'info');
      restartNote = '';
      if (autoStart) { autoStart = false; run(); }
      return;
    }
    if (m.fatal) {
      restart(m.message);
      return;
    }
    if (pending && m.id === pending.id) {
      const p = pending;
      pending = null;
      if (m.type === 'result') p.resolve(m);
      else p.reject(new Error(m.message));
    }
  };
  worker.onerror = (e) => { e.preventDefault(); restart(e.message || 'the worker stopped'); };
}

let restartNote = ''; // stays on the status line until the restarted worker is ready
let restarts = 0; // since the last 'ready': a module that cannot load must not restart forever

function restart(reason) {
  if (worker) worker.terminate();
  worker = null;
  if (++restarts > 3) {
    if (pending) { const p = pending; pending = null; p.reject(new Error(reason)); }
    setState('failed');
    say(`The benchmark worker keeps failing (${reason}); reload the page to try again.`, 'error');
    return;
  }
  if (pending) { const p = pending; pending = null; p.reject(new Error(`the worker died (${reason}); it was restarted`)); }
  restartNote = `The benchmark worker stopped (${reason}); it was restarted. `;
  startWorker();
  say(restartNote, 'error');
}

function request(config) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending = { id, resolve, reject };
    worker.postMessage({ id, config });
  });
}

function readForm() {
  const only = [...form.querySelectorAll('input[name=only]:checked')].map((i) => i.value);
  const quick = $('bench-quick').checked;
  const memory = Number($('bench-memory').value);
  if (!Number.isInteger(memory) || memory < 0 || memory > 1e6) {
    throw new Error(`memory: expected a whole number of steps in 0..1000000, got "${$('bench-memory').value}"`);
  }
  if (only.length === 0) throw new Error('scenarios: select at least one');
  return { only, quick, memory };
}

function mergeReport(into, report) {
  if (!into) return structuredClone(report);
  for (const key of ['results', 'kernels', 'matrix_free', 'memory']) {
    into[key] = (into[key] || []).concat(report[key] || []);
  }
  return into;
}

async function run() {
  let opts;
  try { opts = readForm(); } catch (e) { say(e.message, 'error'); return; }
  setState('running');
  downloadButton.disabled = true;
  merged = null;
  table.textContent = '';
  window.benchResult = null;
  const t0 = performance.now();
  const failures = [];
  for (const [i, name] of opts.only.entries()) {
    say(`Running ${name} (${i + 1} of ${opts.only.length})…`);
    const config = { only: [name], quick: opts.quick };
    if (name === 'S' && opts.memory > 0) config.memory_steps = opts.memory;
    try {
      const out = await request(config);
      merged = mergeReport(merged, out.report);
      table.textContent += (table.textContent ? '\n' : '') + out.table;
    } catch (e) {
      failures.push(`${name}: ${e.message}`);
      table.textContent += `\n${name}: failed — ${e.message}\n`;
      if (document.body.dataset.state === 'loading') await new Promise((r) => {
        const check = () => (['ready', 'failed'].includes(document.body.dataset.state) ? r() : setTimeout(check, 50));
        check();
      });
      if (document.body.dataset.state === 'failed') break;
      setState('running');
    }
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  if (document.body.dataset.state !== 'failed') setState('ready');
  downloadButton.disabled = !merged;
  window.benchResult = { report: merged, failures, seconds: Number(seconds) };
  showRatio();
  if (failures.length) say(`Finished in ${seconds} s with ${failures.length} failure(s): ${failures.join('; ')}`, 'error');
  else say(`Finished in ${seconds} s.`);
  document.body.dataset.done = '1';
}

// The wasm/native table: one row per scenario and flow present in both reports.
function showRatio() {
  if (!native) { ratio.textContent = ''; return; }
  if (!merged) { ratio.textContent = 'Native report loaded; run the benchmark here to compare.'; return; }
  const num = (x, w) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toExponential(3)).padStart(w);
  const lines = [`native: ${native.threads} thread(s), 512³ dgemm ${native.gemm_gflops.toFixed(1)} GFLOP/s on one; wasm: ${merged.gemm_gflops.toFixed(1)}`,
    'scenario flow      s/eval wasm  s/eval native  ratio   steps/s wasm  steps/s native  ratio'];
  for (const w of merged.results) {
    const x = native.results.find((y) => y.scenario === w.scenario && y.flow === w.flow);
    if (!x) continue;
    const ev = w.eval_seconds.median / x.eval_seconds.median;
    const st = w.steps_per_second && x.steps_per_second ? x.steps_per_second / w.steps_per_second : NaN;
    const steps = (v) => (v ? String(Math.round(v)) : '-');
    lines.push(`${w.scenario.padEnd(8)} ${w.flow.padEnd(9)} ${num(w.eval_seconds.median, 11)} ${num(x.eval_seconds.median, 14)} ${(ev.toFixed(2) + '×').padStart(7)} ${steps(w.steps_per_second).padStart(13)} ${steps(x.steps_per_second).padStart(15)} ${(Number.isFinite(st) ? st.toFixed(2) + '×' : '-').padStart(7)}`);
  }
  if (lines.length === 2) lines.push('(no scenario in common)');
  ratio.textContent = lines.join('\n');
  window.benchRatio = lines;
}

$('bench-native').addEventListener('change', async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  try {
    const r = JSON.parse(await file.text());
    if (r.format !== 'pullback-bench' || !Array.isArray(r.results)) {
      throw new Error('format: expected a `pullback bench --json` report ("format": "pullback-bench")');
    }
    native = r;
    showRatio();
  } catch (err) {
    native = null;
    ratio.textContent = '';
    say(`native report ${file.name}: ${err.message}`, 'error');
  }
});

form.addEventListener('submit', (e) => { e.preventDefault(); if (!runButton.disabled) run(); });
downloadButton.addEventListener('click', () => {
  if (!merged) return;
  const blob = new Blob([JSON.stringify(merged, null, 2)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'pullback-bench-wasm.json';
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
});

// The hash preselects the run (#only=S,M&quick=1&memory=N&auto=1); unknown names are reported.
let autoStart = false;
(function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const known = new Set([...form.querySelectorAll('input[name=only]')].map((i) => i.value));
  if (params.has('only')) {
    const want = params.get('only').split(',').filter(Boolean);
    const unknown = want.filter((n) => !known.has(n));
    if (unknown.length) {
      say(`only: unknown scenario ${unknown.join(', ')} (in the browser: ${[...known].join(', ')})`, 'error');
      return;
    }
    for (const input of form.querySelectorAll('input[name=only]')) input.checked = want.includes(input.value);
  }
  if (params.has('quick')) $('bench-quick').checked = params.get('quick') !== '0';
  if (params.has('memory')) $('bench-memory').value = params.get('memory');
  autoStart = params.get('auto') === '1';
})();
startWorker();

// For the end-to-end test of the restart path, with the test flag only (js/testing.js): makes
// the worker throw outside its guard.
if (TEST) window.pullbackBench = { crash: () => worker && worker.postMessage({ __crash: true }) };
