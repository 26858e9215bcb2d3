// The Pullback page: editor, URL state, worker messages and drawing. The module worker integrates;
// this thread turns input into settings (wasm Page), worker messages into figures (wasm Figures)
// and figures into pixels (plotters on canvases). Nothing here integrates a flow.
import init, { Figures, Page, presets, install_panic_hook } from './pkg/pullback.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['cost', 'outputs', 'spectrum', 'boundary', 'collapse', 'singular', 'reparam', 'homotopy', 'critical', 'construct'];
const HEAT_SIZE = 48;
// The homotopy family drawn side by side: the standard flow, three blends, the adapted flow.
const FAMILY_ALPHAS = [0, 0.25, 0.5, 0.75, 1];
// Least time between two refreshes of a panel's text while running.
const PANEL_EVERY_MS = 300;
const CLASS_COLORS = ['#e69f00', '#56b4e9', '#009e73', '#cc79a7', '#d55e00', '#0072b2', '#f0e442', '#646464'];

let page = null;
let figures = null;
let worker = null;
let workerGen = 0;
let nextId = 1;
let info = null;
let lanes = [];
let running = false;
let resumeAfterLoad = null;
let loadTimer = null;
let loadedKey = '';
let firstLoad = true;
let restarts = [];
let selectedClass = 0;
let familyOn = false;
let prevStatus = [];
let panelTimer = null;
let stageAnim = null;
let manualEscape = -1;
const dirty = new Set();
const lastDraw = {};
const drawCost = {};
const onScreen = new Set(VIEWS);

const dpr = () => window.devicePixelRatio || 1;
// The slowest piece of main-thread work so far, for the end-to-end figures.
const slowest = { what: '', ms: 0 };
const note = (what, ms) => { if (ms > slowest.ms) { slowest.what = what; slowest.ms = ms; } };
const setState = (s) => { document.body.dataset.state = s; };
const fmt = (x) => (Number.isFinite(x) ? x.toExponential(4) : String(x));
const fmtS = (x) => (Number.isFinite(x) ? (x < 1000 ? x.toFixed(3) : x.toExponential(3)) : String(x));

function showBanner(text) {
  $('banner-text').textContent = text;
  $('banner').hidden = false;
}

function status(text) {
  $('status').textContent = text;
}

// ---------------------------------------------------------------- worker

function post(msg) {
  msg.id = nextId++;
  worker.postMessage(msg);
  return msg.id;
}

// A worker that stops answering (one computation far too large for this browser) cannot be
// interrupted, only replaced: the page pings it and, after HANG_MS without any message, restarts it
// paused, so that the same computation does not start again by itself.
const HANG_MS = window.__pullbackHangMs ?? 30000;
let lastHeard = null;
let pingTimer = null;

function watchdog() {
  clearInterval(pingTimer);
  pingTimer = setInterval(() => {
    // Loading the module is not a hang (slow machines take seconds); the clock starts at its
    // first message.
    if (document.body.dataset.state === 'error' || lastHeard === null) return;
    const silent = performance.now() - lastHeard;
    if (silent > HANG_MS) {
      restartWorker(`The worker has not answered for ${Math.round(silent / 1000)} s (one computation is too large for this browser; try fewer points or a smaller network)`, { hung: true });
    } else {
      worker.postMessage({ type: '__ping' });
    }
  }, Math.min(5000, HANG_MS / 3));
}

function startWorker() {
  const gen = ++workerGen;
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  lastHeard = null;
  watchdog();
  worker.onmessage = (e) => {
    if (gen !== workerGen) return;
    lastHeard = performance.now();
    if (e.data.type === '__pong') return;
    const t0 = performance.now();
    onMessage(e.data);
    note(`message ${e.data.type}`, performance.now() - t0);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    if (gen === workerGen) restartWorker(`The worker stopped with an error (${e.message || 'no message'})`);
  };
  worker.onmessageerror = () => {
    if (gen === workerGen) restartWorker('A message from the worker could not be read');
  };
}

function restartWorker(reason, { hung = false } = {}) {
  const now = performance.now();
  restarts = restarts.filter((t) => now - t < 20000);
  restarts.push(now);
  worker.terminate();
  const wasRunning = running;
  running = false;
  if (restarts.length > 3) {
    setState('error');
    showBanner(`${reason}. The worker keeps failing, so it was not restarted again; reload the page to try once more.`);
    return;
  }
  const resume = wasRunning && !hung;
  showBanner(`${reason}. The worker was restarted and the scenario restored${resume ? '; the run starts again from θ₀' : (hung ? ', paused' : '')}.`);
  resumeAfterLoad = resume ? 'play' : null;
  loadedKey = '';
  familyOn = false;
  // Until the new worker has the scenario again nothing can run; saying so at once also keeps
  // a click on play from going to a worker that is still starting.
  setState('loading');
  startWorker();
}

function onMessage(m) {
  switch (m.type) {
    case 'ready':
      sendSpeed();
      sendLoad();
      break;
    case 'loaded':
      try {
        figures.load(m.info, m.bulk);
      } catch (e) {
        showBanner(`Could not read the loaded run: ${e.message}`);
        return;
      }
      info = m.info;
      onLoaded();
      break;
    case 'frame': {
      let fresh = false;
      try {
        fresh = figures.apply(m.frame, m.bulk ?? null);
      } catch (e) {
        showBanner(`Could not read a frame: ${e.message}`);
      }
      if (fresh) onFrame(m.frame);
      break;
    }
    case 'trace':
      download(`pullback-trace-${info.lanes[m.lane].choice.kind}.json`, m.json, 'application/json');
      break;
    case 'critical':
      onCritical(m);
      break;
    case 'construction':
      try {
        if (figures.apply_construction(m.report, m.bulk ?? null)) {
          figures.set_stage(Number(page.get('stage')) || 0);
          renderConstruct();
          markDirty('construct');
        }
      } catch (e) {
        showBanner(`Could not read the construction: ${e.message}`);
      }
      break;
    case 'family':
      try {
        if (figures.apply_family(m.family, m.bulk ?? null)) {
          markDirty('homotopy');
          schedulePanels();
        }
      } catch (e) {
        showBanner(`Could not read the homotopy family: ${e.message}`);
      }
      break;
    case 'ack':
      break;
    case 'error':
      if (m.fatal) restartWorker(`The worker failed: ${m.message}`);
      else showBanner(m.message);
      break;
    default:
      showBanner(`Unexpected message from the worker: ${JSON.stringify(m).slice(0, 120)}`);
  }
}

function sendLoad() {
  clearTimeout(loadTimer);
  try {
    page.describe();
  } catch (e) {
    return; // the size readout already says what is wrong
  }
  const scenario = page.scenario_json();
  const flows = page.flows();
  loadedKey = scenario + JSON.stringify(flows);
  post({ type: 'load', scenario, flows });
}

function scheduleLoad() {
  clearTimeout(loadTimer);
  loadTimer = setTimeout(() => {
    const key = page.scenario_json() + JSON.stringify(page.flows());
    if (key !== loadedKey) {
      resumeAfterLoad = running ? 'play' : null;
      sendLoad();
    }
  }, 250);
}

function sendSpeed() {
  post({ type: 'speed', s_per_second: page.speed() ?? null });
}

function syncFamily() {
  if (!info) return;
  const want = page.views().includes('homotopy');
  if (want && !familyOn) {
    post({ type: 'family', alphas: FAMILY_ALPHAS });
    familyOn = true;
  } else if (!want && familyOn) {
    post({ type: 'family', alphas: null });
    figures.clear_family();
    familyOn = false;
  }
}

function requestConstruct() {
  if (info && page.views().includes('construct')) post({ type: 'construct' });
}

function sendHeat() {
  if (!info) return;
  const want = page.views().includes('boundary') && info.bounds;
  const lane = Math.min(page.focus_index(), info.lanes.length - 1);
  post({ type: 'heatmap', lane: want ? lane : null, size: HEAT_SIZE });
}

// ---------------------------------------------------------------- run state

function onLoaded() {
  lanes = [];
  running = false;
  figures.set_focus(Math.min(page.focus_index(), info.lanes.length - 1));
  const pair = page.pair();
  if (info.q > 2 && pair[0] < info.q && pair[1] < info.q) figures.set_pair(pair[0], pair[1]);
  buildLaneTable();
  buildClasses();
  showRegime(info);
  sendHeat();
  syncFamily();
  requestConstruct();
  prevStatus = [];
  resetCritical();
  const rf = figures.rank_formula();
  $('rank-formula').hidden = !rf;
  $('rank-formula').textContent = rf ?? '';
  renderPanels();
  markDirty();
  setState('ready');
  updateButtons();
  if (!window.pullback.readyAt) window.pullback.readyAt = performance.now();
  const resume = resumeAfterLoad;
  resumeAfterLoad = null;
  if (resume) post({ type: resume });
  else if (firstLoad && page.autoplay()) play();
  firstLoad = false;
}

function onFrame(f) {
  lanes = f.lanes;
  running = f.running;
  const s = figures.s();
  $('s-readout').textContent = fmtS(s);
  $('s-readout').dataset.value = String(s);
  const c = lanes[0].cost;
  $('cost-readout').textContent = `${fmt(c)} (${info.lanes[0].label})`;
  $('cost-readout').dataset.value = String(c);
  updateLaneTable();
  if (f.progress != null) {
    $('progress').hidden = false;
    $('progress').value = f.progress;
  } else if (!running) {
    $('progress').hidden = true;
  }
  watchRestPoints();
  schedulePanels();
  const events = lanes.flatMap((l, i) => l.events.filter((e) => e.kind !== 'rank_change').map((e) => `${info.lanes[i].choice.kind}: ${e.message}`));
  if (events.length) status(events[events.length - 1]);
  else if (f.stopped && f.stopped !== 'step') status(`stopped — ${f.stopped}`);
  setState(running ? 'running' : s > 0 ? 'paused' : 'ready');
  updateButtons();
  markDirty();
}

function updateButtons() {
  $('play').hidden = running;
  $('pause').hidden = !running;
}

function play() {
  if (!info) return;
  if (document.body.dataset.state === 'loading') {
    // The worker is (re)loading the scenario: play as soon as it has it.
    resumeAfterLoad = 'play';
    return;
  }
  if (lanes.length && lanes.every((l) => l.status !== 'running')) {
    // Every flow has ended: start over rather than do nothing.
    resumeAfterLoad = 'play';
    post({ type: 'reset' });
    return;
  }
  post({ type: 'play' });
  running = true;
  setState('running');
  updateButtons();
}

function pause() {
  if (!info) return;
  post({ type: 'pause' });
}

function step() {
  if (info) post({ type: 'step' });
}

function reset() {
  if (info) post({ type: 'reset' });
}

function runUntil() {
  if (!info) return;
  if (info.epsilon == null) {
    showBanner('eps: set ε (stop at C ≤ ε) to run until the cost reaches it.');
    return;
  }
  $('progress').hidden = false;
  $('progress').value = 0;
  post({ type: 'run_until' });
  running = true;
  setState('running');
  updateButtons();
}

// ---------------------------------------------------------------- readouts

function showRegime(d) {
  const badge = $('regime');
  const rel = d.regime === 'over' ? '>' : d.regime === 'under' ? '<' : '=';
  badge.textContent = `${d.regime} · K = ${d.k} ${rel} QN = ${d.qn}`;
  badge.className = `badge chrome ${d.regime}`;
  badge.dataset.value = d.regime;
}

function updateSizes() {
  try {
    const d = page.describe();
    $('sizes').textContent = `K = ${d.k} parameters, QN = ${d.q}·${d.n} = ${d.qn} outputs: ${d.regime}parametrized${d.regime === 'borderline' ? '' : ''}`;
    $('sizes').classList.remove('bad');
    showRegime(d);
    return true;
  } catch (e) {
    $('sizes').textContent = e.message;
    $('sizes').classList.add('bad');
    return false;
  }
}

function buildLaneTable() {
  const body = $('lanes').tBodies[0];
  body.textContent = '';
  const sel = $('trace-lane');
  sel.textContent = '';
  info.lanes.forEach((l, i) => {
    const tr = body.insertRow();
    tr.innerHTML = '<td><span class="swatch"></span> <span class="name"></span></td><td class="s"></td><td class="c"></td><td class="r"></td><td class="st"></td><td class="sps"></td>';
    tr.querySelector('.swatch').style.background = l.color;
    tr.querySelector('.name').textContent = l.label;
    sel.add(new Option(l.label, String(i)));
  });
}

function updateLaneTable() {
  const rows = $('lanes').tBodies[0].rows;
  lanes.forEach((l, i) => {
    const r = rows[i];
    if (!r) return;
    r.querySelector('.s').textContent = fmtS(l.s);
    r.querySelector('.c').textContent = fmt(l.cost);
    r.querySelector('.r').textContent = l.rank ?? '–';
    r.querySelector('.st').textContent = l.status;
    r.querySelector('.sps').textContent = l.steps_per_s > 0 ? l.steps_per_s.toFixed(0) : '–';
  });
}

function buildClasses() {
  const box = $('classes');
  box.textContent = '';
  if (!info.bounds) return;
  const n = Math.min(info.classes, CLASS_COLORS.length);
  if (selectedClass >= n) selectedClass = 0;
  for (let c = 0; c < n; c++) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = `class${c === selectedClass ? ' on' : ''}`;
    b.style.background = CLASS_COLORS[c];
    b.title = `clicks add points of class ${c + 1}`;
    b.textContent = String(c + 1);
    b.onclick = () => { selectedClass = c; buildClasses(); };
    box.append(b);
  }
}

// ---------------------------------------------------------------- panels

// A lane that comes to rest or escapes is inspected by the worker (critical submanifold at θ*):
// the panel shows itself when that is a rank-loss equilibrium or an escape.
function watchRestPoints() {
  if (!info || !info.inspectable) return;
  lanes.forEach((l, i) => {
    const stopped = l.status === 'stationary' && prevStatus[i] !== 'stationary';
    let jumped = l.events.some((e) => e.kind === 'escape' || e.kind === 'no_escape');
    // The Escape button's answer brings its own panel.
    if (jumped && manualEscape === i) { jumped = false; manualEscape = -1; }
    if (stopped || jumped) post({ type: 'critical', lane: i });
    prevStatus[i] = l.status;
  });
}

function onCritical(m) {
  let fresh = false;
  try {
    fresh = figures.apply_critical(m.report, m.bulk ?? null);
  } catch (e) {
    showBanner(`Could not read the critical panel: ${e.message}`);
    return;
  }
  if (!fresh) return;
  const r = m.report;
  const notable = r.kind === 'rank_loss_equilibrium' || r.at_escape || r.no_escape;
  if (notable && !page.views().includes('critical')) {
    // The panel appears, and the flow it describes becomes the focused one (singular values).
    edit('view', [...page.views(), 'critical'].join(','));
    edit('focus', info.lanes[r.lane].choice.kind);
  }
  $('critical-lane').value = String(r.lane);
  renderCritical();
  markDirty('critical');
}

function resetCritical() {
  const sel = $('critical-lane');
  sel.textContent = '';
  info.lanes.forEach((l, i) => sel.add(new Option(l.label, String(i))));
  $('critical-title').textContent = 'critical submanifold of a rest point';
  $('critical-verdict').textContent = info.inspectable
    ? 'Nothing inspected yet. The panel fills when a flow comes to rest (status stationary) or escapes; or choose a flow and inspect its current θ.'
    : `K·QN = ${info.k}·${info.qn} is too large for exact Hessian columns here: use fewer points or a smaller network.`;
  $('critical-readouts').textContent = '';
  $('critical-escape').textContent = '';
  $('critical-slice').textContent = '';
  $('escape-button').disabled = true;
  $('inspect').disabled = !info.inspectable;
}

function fillReadouts(dl, readouts) {
  dl.textContent = '';
  for (const r of readouts) {
    const dt = document.createElement('dt');
    dt.textContent = r.label;
    const dd = document.createElement('dd');
    dd.textContent = r.text;
    dd.dataset.testid = `readout-${r.key}`;
    dd.dataset.value = String(r.value);
    dl.append(dt, dd);
  }
}

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function renderCritical() {
  const p = figures.critical_panel();
  if (!p) return;
  setText('critical-title', p.title);
  setText('critical-verdict', p.verdict);
  fillReadouts($('critical-readouts'), p.readouts);
  setText('critical-escape', p.escape);
  setText('critical-slice', p.slice);
  $('escape-button').disabled = !p.can_escape;
  $('escape-button').dataset.lane = String(p.lane);
}

function renderConstruct() {
  const p = figures.construct_panel();
  if (!p) return;
  setText('construct-arch', p.architecture);
  $('use-construct').hidden = p.fits || !p.hidden;
  $('use-construct').dataset.hidden = p.hidden;
  fillReadouts($('construct-readouts'), p.readouts);
  const body = $('construct-table').tBodies[0];
  body.textContent = '';
  for (const row of p.rows) {
    const tr = body.insertRow();
    tr.innerHTML = '<td><span class="swatch"></span> <span class="name"></span></td><td class="c"></td><td class="p"></td><td class="r"></td><td class="pr"></td><td class="st"></td>';
    tr.querySelector('.swatch').style.background = row.color;
    tr.querySelector('.name').textContent = row.label;
    tr.querySelector('.c').textContent = row.cost;
    tr.querySelector('.c').dataset.value = String(row.cost_value);
    tr.querySelector('.p').textContent = row.perp;
    tr.querySelector('.r').textContent = row.rank;
    tr.querySelector('.pr').textContent = row.perp_rank;
    tr.querySelector('.st').textContent = row.status;
  }
  setText('construct-verdict', p.verdict);
  const label = $('stage-label');
  label.textContent = p.stage;
  label.dataset.position = String(p.position);
  label.dataset.positions = String(p.positions);
  $('stage-prev').disabled = p.positions === 0 || p.position === 0;
  $('stage-next').disabled = p.positions === 0 || p.position + 1 >= p.positions;
  $('stage-play').disabled = p.positions === 0;
}

function renderFamily() {
  const p = figures.family_panel();
  if (!p) return;
  const body = $('family-table').tBodies[0];
  body.textContent = '';
  for (const row of p.rows) {
    const tr = body.insertRow();
    tr.innerHTML = '<td><span class="swatch"></span> <span class="name"></span></td><td class="s"></td><td class="c"></td><td class="st"></td><td class="f"></td>';
    tr.querySelector('.swatch').style.background = row.color;
    tr.querySelector('.name').textContent = row.label;
    tr.querySelector('.s').textContent = row.s;
    tr.querySelector('.c').textContent = row.cost;
    tr.querySelector('.st').textContent = row.status;
    tr.querySelector('.f').textContent = row.fields;
  }
  setText('family-verdict', p.verdict);
}

function renderReparam() {
  const p = figures.reparam_panel();
  if (!p) return;
  setText('reparam-verdict', p.verdict);
  fillReadouts($('reparam-readouts'), p.readouts);
}

function renderPanels() {
  panelTimer = null;
  if (!figures || !info) return;
  const views = page.views();
  const t0 = performance.now();
  if (views.includes('critical')) renderCritical();
  if (views.includes('construct')) renderConstruct();
  if (views.includes('homotopy')) renderFamily();
  if (views.includes('reparam')) renderReparam();
  note('panels', performance.now() - t0);
}

function schedulePanels() {
  if (panelTimer === null) panelTimer = setTimeout(renderPanels, running ? PANEL_EVERY_MS : 0);
}

function setStage(position) {
  const n = figures.layer_positions();
  if (n === 0) return;
  const p = Math.max(0, Math.min(n - 1, position));
  edit('stage', String(p));
  figures.set_stage(p);
  renderConstruct();
  markDirty('construct');
}

// Steps through every stage from the current one: the collapsing class slides to its apex.
function animateStages() {
  if (stageAnim) { cancelAnimationFrame(stageAnim); stageAnim = null; return; }
  const n = figures.layer_positions();
  if (n === 0) return;
  let from = Number(page.get('stage')) || 0;
  if (from >= n - 1) from = 0;
  const move = 700;
  const hold = 500;
  let t0 = performance.now();
  setStage(from);
  const tick = (now) => {
    const t = now - t0;
    if (t < move) {
      figures.set_stage(from + t / move);
      draw('construct');
    } else if (t < move + hold) {
      if (Number(page.get('stage')) !== from + 1) setStage(from + 1);
      draw('construct');
    } else {
      from += 1;
      t0 = now;
      if (from >= n - 1) { stageAnim = null; return; }
    }
    stageAnim = requestAnimationFrame(tick);
  };
  stageAnim = requestAnimationFrame(tick);
}

// ---------------------------------------------------------------- editor

function renderEditor() {
  const focused = document.activeElement;
  const set = (id, key) => {
    const el = $(id);
    const v = page.get(key);
    el.disabled = v === undefined;
    if (el !== focused) el.value = v === undefined ? '' : v === 'none' && (key === 'eps' || key === 'smax') ? '' : v;
  };
  const kind = page.get('data') ?? 'custom';
  $('data').querySelector('option[value=custom]').disabled = kind !== 'custom';
  $('data').value = kind;
  ['N', 'noise', 'Q', 'dim', 'seed', 'h', 'alpha', 'eps', 'smax', 'pair'].forEach((k) => set(k, k));
  $('act').value = page.get('act');
  $('escape').checked = page.get('escape') === '1';
  $('alpha-value').textContent = page.get('alpha');
  const speed = page.get('speed');
  if (![...$('speed').options].some((o) => o.value === speed)) $('speed').add(new Option(`${speed} s/sec`, speed));
  $('speed').value = speed;
  const preset = page.preset();
  $('preset').value = preset ?? '';
  const p = presetList.find((x) => x.name === preset);
  $('preset-summary').textContent = !p ? 'a custom scenario' : page.edited() ? `edited from ${p.name}: ${p.summary}` : p.summary;
  const flows = page.get('flows').split(',');
  document.querySelectorAll('input.flow').forEach((cb) => { cb.checked = flows.includes(cb.value); });
  const views = page.views();
  document.querySelectorAll('input.view').forEach((cb) => { cb.checked = views.includes(cb.value); });
  const focus = $('focus');
  focus.textContent = '';
  for (const f of flows) focus.add(new Option(f, f));
  focus.value = flows.includes(page.get('focus')) ? page.get('focus') : flows[0];
  renderLayers();
  let q = 2;
  try { q = page.describe().q; } catch (e) { /* shown by updateSizes */ }
  $('pair-row').hidden = q <= 2;
  updateSizes();
}

function renderLayers() {
  const box = $('layers');
  const net = page.get('net');
  const widths = net === 'none' ? [] : net.split(',');
  const inputs = [...box.querySelectorAll('input')];
  if (inputs.length === widths.length) {
    // Same layers: refresh the values but keep the elements (and the focus) where they are.
    inputs.forEach((input, i) => {
      if (input !== document.activeElement) {
        input.value = widths[i];
        input.classList.remove('invalid');
      }
    });
    return;
  }
  box.textContent = '';
  widths.forEach((w, i) => {
    const row = document.createElement('div');
    row.className = 'layer';
    row.innerHTML = `<label>layer ${i + 1} width <input type="number" min="1" max="4096" step="1"></label><button type="button" title="remove this layer">−</button>`;
    const input = row.querySelector('input');
    input.value = w;
    input.addEventListener('input', () => editLayers(input));
    input.addEventListener('change', () => renderLayers());
    row.querySelector('button').onclick = () => {
      const now = page.get('net').split(',');
      now.splice(i, 1);
      edit('net', now.length ? now.join(',') : 'none');
    };
    box.append(row);
  });
}

function editLayers(input) {
  const widths = [...$('layers').querySelectorAll('input')].map((i) => i.value.trim());
  edit('net', widths.length ? widths.join(',') : 'none', input);
}

function fieldError(el, text) {
  if (!el) {
    showBanner(text);
    return;
  }
  el.classList.toggle('invalid', Boolean(text));
  el.title = text || '';
  if (text) $('sizes').textContent = text;
}

// Applies one key through the core; returns whether it was accepted.
function edit(key, value, el) {
  try {
    page.set(key, value);
  } catch (e) {
    fieldError(el, e.message);
    $('sizes').classList.add('bad');
    return false;
  }
  if (el) fieldError(el, '');
  afterEdit(key);
  return true;
}

function afterEdit(key) {
  writeHash();
  renderEditor();
  // Reloads only when the scenario or the flows changed.
  scheduleLoad();
  // A chosen preset may bring its own views (share::preset_views).
  if (key === 'view' || key === 'preset') { layoutViews(); sendHeat(); syncFamily(); requestConstruct(); renderPanels(); }
  if (key === 'speed') sendSpeed();
  if (key === 'focus' && info) {
    figures.set_focus(Math.min(page.focus_index(), info.lanes.length - 1));
    sendHeat();
    markDirty();
  }
  if (key === 'pair' && info) {
    const p = page.pair();
    try { figures.set_pair(p[0], p[1]); } catch (e) { showBanner(e.message); }
    markDirty();
  }
}

function writeHash() {
  history.replaceState(null, '', `#${page.hash()}`);
}

let presetList = [];
function buildPresetMenu() {
  presetList = presets();
  const sel = $('preset');
  sel.add(new Option('(custom scenario)', ''));
  sel.options[0].disabled = true;
  for (const p of presetList) sel.add(new Option(p.name, p.name));
}

function bindUi() {
  $('banner-close').onclick = () => { $('banner').hidden = true; };
  $('play').onclick = play;
  $('pause').onclick = pause;
  $('step').onclick = step;
  $('reset').onclick = reset;
  $('run-until').onclick = runUntil;
  $('preset').onchange = (e) => {
    try { page.choose_preset(e.target.value); } catch (err) { showBanner(err.message); return; }
    afterEdit('preset');
  };
  $('speed').onchange = (e) => edit('speed', e.target.value, e.target);
  $('data').onchange = (e) => edit('data', e.target.value, e.target);
  $('act').onchange = (e) => edit('act', e.target.value, e.target);
  $('focus').onchange = (e) => edit('focus', e.target.value, e.target);
  for (const id of ['N', 'noise', 'Q', 'dim', 'seed', 'h', 'eps', 'smax', 'pair']) {
    const el = $(id);
    el.addEventListener('input', () => {
      const v = el.value.trim();
      edit(id, v === '' && (id === 'eps' || id === 'smax') ? 'none' : v, el);
    });
    el.addEventListener('change', () => { fieldError(el, ''); renderEditor(); });
  }
  $('alpha').addEventListener('input', (e) => edit('alpha', e.target.value, e.target));
  document.querySelectorAll('input.flow').forEach((cb) => {
    cb.onchange = () => {
      const flows = [...document.querySelectorAll('input.flow')].filter((x) => x.checked).map((x) => x.value);
      if (!edit('flows', flows.join(','), cb)) cb.checked = true;
    };
  });
  document.querySelectorAll('input.view').forEach((cb) => {
    cb.onchange = () => {
      const views = [...document.querySelectorAll('input.view')].filter((x) => x.checked).map((x) => x.value);
      if (!edit('view', views.join(','), cb)) cb.checked = true;
    };
  });
  $('escape').onchange = (e) => edit('escape', e.target.checked ? '1' : '0', e.target);
  $('inspect').onclick = () => { if (info) post({ type: 'critical', lane: Number($('critical-lane').value) || 0 }); };
  $('escape-button').onclick = () => {
    if (!info) return;
    $('escape-button').disabled = true;
    manualEscape = Number($('escape-button').dataset.lane) || 0;
    post({ type: 'escape', lane: manualEscape });
  };
  $('use-construct').onclick = () => {
    const hidden = $('use-construct').dataset.hidden;
    if (!hidden) return;
    edit('act', 'relu');
    edit('net', hidden);
  };
  $('stage-prev').onclick = () => setStage((Number(page.get('stage')) || 0) - 1);
  $('stage-next').onclick = () => setStage((Number(page.get('stage')) || 0) + 1);
  $('stage-play').onclick = animateStages;
  $('add-layer').onclick = () => {
    const net = page.get('net');
    edit('net', net === 'none' ? '8' : `${net},8`);
  };
  $('regenerate').onclick = () => edit('seed', String(Math.floor(Math.random() * 1e6)));
  $('import').onchange = async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    try {
      page.import_csv(await file.text());
    } catch (err) {
      showBanner(`${file.name}: ${err.message}`);
      return;
    } finally {
      e.target.value = '';
    }
    afterEdit('data');
  };
  $('export-data').onclick = () => {
    try { download('pullback-data.csv', page.export_csv(), 'text/csv'); } catch (err) { showBanner(err.message); }
  };
  $('copy-link').onclick = () => copyText(shareUrl(false));
  $('copy-embed').onclick = () => {
    const url = shareUrl(true);
    copyText(`<iframe src="${url.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}" width="720" height="440" style="border:0" title="Pullback: adapted gradient flows" loading="lazy"></iframe>`);
  };
  $('download-trace').onclick = () => { if (info) post({ type: 'trace', lane: Number($('trace-lane').value) || 0 }); };
  $('download-csv').onclick = () => download('pullback-cost.csv', figures.cost_csv(), 'text/csv');
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest && e.target.closest('input, select, textarea')) return;
    // Space toggles even when a button has the focus (it would click that button otherwise).
    if (e.key === ' ') { e.preventDefault(); if (running) pause(); else play(); }
    else if (e.key === '.') step();
    else if (e.key === 'r' || e.key === 'R') reset();
  });
  window.addEventListener('hashchange', () => {
    if (`#${page.hash()}` === location.hash) return;
    const next = Page.from_hash(location.hash);
    const errs = next.errors();
    page.free();
    page = next;
    if (errs.length) showBanner(`The link has settings that could not be used, defaults apply instead: ${errs.join('; ')}`);
    applyEmbed();
    renderEditor();
    layoutViews();
    writeHash();
    sendSpeed();
    resumeAfterLoad = page.autoplay() ? 'play' : null;
    sendLoad();
  });
}

function shareUrl(embed) {
  const base = location.href.split('#')[0];
  if (!embed) return `${base}#${page.hash()}`;
  const p = page.copy();
  p.set('embed', '1');
  const url = `${base}#${p.hash()}`;
  p.free();
  return url;
}

async function copyText(text) {
  $('share-text').value = text;
  try {
    await navigator.clipboard.writeText(text);
    status('copied to the clipboard');
  } catch (e) {
    $('share-text').select();
    status('select and copy the text above');
  }
}

function download(name, data, type) {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// ---------------------------------------------------------------- figures

function applyEmbed() {
  document.body.classList.toggle('embed', page.embed());
}

function layoutViews() {
  const views = page.views();
  for (const fig of document.querySelectorAll('figure[data-view]')) {
    fig.hidden = !views.includes(fig.dataset.view);
  }
  document.body.style.setProperty('--views', String(views.length));
  markDirty();
}

function markDirty(view) {
  if (view) dirty.add(view);
  else VIEWS.forEach((v) => dirty.add(v));
}

function canvasOf(view) {
  return document.querySelector(`figure[data-view="${view}"] canvas`);
}

function sizeCanvas(c) {
  const r = c.getBoundingClientRect();
  const w = Math.max(1, Math.round(r.width * dpr()));
  const h = Math.max(1, Math.round(r.height * dpr()));
  if (c.width !== w || c.height !== h) {
    c.width = w;
    c.height = h;
    markDirty(c.parentElement.dataset.view);
  }
}

function setupCanvases() {
  const ro = new ResizeObserver((entries) => entries.forEach((e) => sizeCanvas(e.target)));
  const io = new IntersectionObserver((entries) => entries.forEach((e) => {
    const v = e.target.dataset.view;
    if (e.isIntersecting) onScreen.add(v);
    else onScreen.delete(v);
  }));
  const tip = $('tooltip');
  for (const fig of document.querySelectorAll('figure[data-view]')) {
    const view = fig.dataset.view;
    const c = fig.querySelector('canvas');
    ro.observe(c);
    io.observe(fig);
    c.addEventListener('mousemove', (e) => {
      const text = figures.hover(view, e.offsetX * dpr(), e.offsetY * dpr());
      if (!text) { tip.hidden = true; return; }
      tip.textContent = text;
      tip.hidden = false;
      const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 4);
      tip.style.left = `${Math.max(4, x)}px`;
      tip.style.top = `${e.clientY + 14}px`;
    });
    c.addEventListener('mouseleave', () => { tip.hidden = true; });
    if (view === 'boundary') c.addEventListener('click', (e) => clickPlane(e));
    fig.querySelector('button.png').onclick = () => c.toBlob((b) => download(`pullback-${view}.png`, b));
  }
  matchMedia(`(resolution: ${dpr()}dppx)`).addEventListener('change', () => {
    document.querySelectorAll('figure canvas').forEach(sizeCanvas);
  });
}

function clickPlane(e) {
  if (page.embed()) return;
  const p = figures.input_at(e.offsetX * dpr(), e.offsetY * dpr());
  if (!p) return;
  try {
    if (e.shiftKey) {
      const r = figures.input_radius(12 * dpr());
      if (!page.remove_point(p[0], p[1], r)) return;
    } else {
      page.add_point(p[0], p[1], selectedClass);
    }
  } catch (err) {
    showBanner(err.message);
    return;
  }
  afterEdit('data');
  clearTimeout(loadTimer);
  resumeAfterLoad = running ? 'play' : null;
  sendLoad();
}

function drawLoop(now) {
  requestAnimationFrame(drawLoop);
  if (!figures) return;
  // One figure per animation frame, each at most every few of its own drawing times while
  // running: drawing never hogs the main thread.
  let pick = null;
  for (const v of page.views()) {
    if (!dirty.has(v) || !onScreen.has(v)) continue;
    const wait = running ? Math.max(150, 5 * (drawCost[v] || 0)) : 0;
    if (now - (lastDraw[v] || 0) < wait) continue;
    if (!pick || (lastDraw[v] || 0) < (lastDraw[pick] || 0)) pick = v;
  }
  if (pick) draw(pick);
}

function draw(view) {
  const c = canvasOf(view);
  if (c.width < 8 || c.height < 8) return;
  const t0 = performance.now();
  try {
    figures.draw(view, c, dpr());
  } catch (e) {
    showBanner(`Drawing the ${view} figure failed: ${e.message}`);
  }
  const t1 = performance.now();
  note(`draw ${view}`, t1 - t0);
  drawCost[view] = t1 - t0;
  lastDraw[view] = t1;
  dirty.delete(view);
}

// ---------------------------------------------------------------- boot

window.pullback = {
  readyAt: 0,
  hash: () => page && page.hash(),
  scenario: () => page && page.scenario_json(),
  lanes: () => lanes,
  info: () => info,
  drawCost: () => ({ ...drawCost }),
  slowest: () => ({ ...slowest }),
  crashWorker: () => worker.postMessage({ type: '__crash' }),
  hangWorker: (ms) => worker.postMessage({ type: '__hang', ms }),
};

async function boot() {
  setState('loading');
  try {
    await init();
  } catch (e) {
    setState('error');
    showBanner(`Could not load the WebAssembly module: ${e}`);
    return;
  }
  install_panic_hook();
  window.__pullback_panic = (message) => showBanner(`Internal error: ${message}`);
  figures = new Figures();
  page = Page.from_hash(location.hash);
  const errs = page.errors();
  if (errs.length) showBanner(`The link has settings that could not be used, defaults apply instead: ${errs.join('; ')}`);
  applyEmbed();
  buildPresetMenu();
  bindUi();
  renderEditor();
  layoutViews();
  setupCanvases();
  writeHash();
  startWorker();
  requestAnimationFrame(drawLoop);
}

boot();
