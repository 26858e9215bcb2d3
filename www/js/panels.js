// The panels: the text beside a figure (verdicts, readouts, tables) for the critical submanifold,
// the constructive minimizer, the homotopy family and the outputs against t. The wasm `Figures`
// words them (board.rs); this module puts the words into the page, refreshes them at most every
// PANEL_EVERY_MS while running, and binds the panels' own buttons.
//
// The registry maps a view to the function that renders its panel. A new panel is a
// `<figure data-view=…>` with its elements in index.html and one registerPanel call.
import { state, PANEL_EVERY_MS, note } from './state.js';
import { $, dpr, setText, fillReadouts, fillSwatchTable } from './ui.js';
import { markDirty, draw, onFigureClick } from './figures.js';

const panels = new Map(); // view → render()
// The pending refresh, the running stage animation, and what the panels' buttons ask of the page
// (bindPanels): inspect(lane), escape(lane), edit(key, value), construct(), classify(x).
const local = { timer: null, anim: null, commands: null };

export function registerPanel(view, render) {
  panels.set(view, render);
}

export function renderPanel(view) {
  const render = panels.get(view);
  if (render) {
    render();
    fitPanelText(view);
  }
}

// ---------------------------------------------------------------- compact form in embeds

// In an embed a panel's text has the room its frame gives and never scrolls: its parts marked
// data-fit (1 goes first) are dropped until the rest fits, and the last resort is a smaller font.
// Outside embeds everything shows.
export function fitPanelText(view) {
  const figure = document.querySelector(`figure[data-view="${view}"]`);
  const text = figure && figure.querySelector('.panel-text');
  if (!text) return;
  const parts = [...text.querySelectorAll('[data-fit]')].sort((a, b) => Number(a.dataset.fit) - Number(b.dataset.fit));
  for (const p of parts) p.classList.remove('fit-hidden');
  text.classList.remove('tight');
  if (!document.body.classList.contains('embed') || figure.hidden) return;
  const overflows = () => text.scrollHeight > text.clientHeight + 1 || text.scrollWidth > text.clientWidth + 1;
  for (const p of parts) {
    if (!overflows()) return;
    p.classList.add('fit-hidden');
  }
  if (overflows()) text.classList.add('tight');
}

export function fitPanels() {
  for (const view of panels.keys()) fitPanelText(view);
}

export function renderPanels() {
  local.timer = null;
  if (!state.figures || !state.info) return;
  const views = state.page.views();
  const t0 = performance.now();
  for (const [view, render] of panels) {
    if (views.includes(view)) {
      render();
      fitPanelText(view);
    }
  }
  note('panels', performance.now() - t0);
}

export function schedulePanels() {
  if (local.timer === null) local.timer = setTimeout(renderPanels, state.running ? PANEL_EVERY_MS : 0);
}

// ---------------------------------------------------------------- critical submanifold

// A fresh run: nothing inspected yet, the flows to choose from.
export function resetCritical() {
  const { info } = state;
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

// An inspection arrived: the panel shows it, with its flow chosen for the next Inspect.
export function showCritical(lane) {
  $('critical-lane').value = String(lane);
  renderCritical();
  fitPanelText('critical');
  markDirty('critical');
}

function renderCritical() {
  const p = state.figures.critical_panel();
  if (!p) return;
  setText('critical-title', p.title);
  setText('critical-verdict', p.verdict);
  fillReadouts($('critical-readouts'), p.readouts);
  setText('critical-escape', p.escape);
  setText('critical-slice', p.slice);
  $('escape-button').disabled = !p.can_escape;
  $('escape-button').dataset.lane = String(p.lane);
}

// ---------------------------------------------------------------- constructive minimizer

function renderConstruct() {
  const p = state.figures.construct_panel();
  if (!p) return;
  setText('construct-arch', p.architecture);
  $('use-construct').hidden = p.fits || !p.hidden;
  $('use-construct').dataset.hidden = p.hidden;
  fillReadouts($('construct-readouts'), p.readouts);
  fillSwatchTable($('construct-table'), p.rows, {
    c: (r) => r.cost, p: (r) => r.perp, r: (r) => r.rank, pr: (r) => r.perp_rank, st: (r) => r.status,
  }, { c: (r) => r.cost_value });
  setText('construct-verdict', p.verdict);
  setText('construct-hypotheses', p.hypotheses);
  setText('construct-probe', p.probe);
  setText('construct-numbers', p.numbers);
  $('construct-choice').hidden = !p.clustered_available;
  $('construct-theorem').value = p.theorem;
  const mu = $('mu');
  $('mu-row').hidden = !p.mu;
  if (p.mu) {
    mu.min = String(p.mu.lo);
    mu.max = String(p.mu.hi);
    mu.step = String((p.mu.hi - p.mu.lo) / 200);
    if (document.activeElement !== mu) mu.value = String(p.mu.value);
    setText('mu-text', p.mu.text);
  }
  const body = $('construct-cuts').tBodies[0];
  body.textContent = '';
  for (const c of p.cuts) {
    const tr = body.insertRow();
    for (const v of [c.layer, c.class, c.cut, c.nu, c.apex, c.margin]) tr.insertCell().textContent = String(v);
  }
  const label = $('stage-label');
  label.textContent = p.stage;
  label.dataset.position = String(p.position);
  label.dataset.positions = String(p.positions);
  $('stage-prev').disabled = p.positions === 0 || p.position === 0;
  $('stage-next').disabled = p.positions === 0 || p.position + 1 >= p.positions;
  $('stage-play').disabled = p.positions === 0;
}

const stage = () => Number(state.page.get('stage')) || 0;

function setStage(position) {
  const n = state.figures.layer_positions();
  if (n === 0) return;
  const p = Math.max(0, Math.min(n - 1, position));
  local.commands.edit('stage', String(p));
  state.figures.set_stage(p);
  renderConstruct();
  markDirty('construct');
}

// Steps through every stage from the current one: the collapsing class slides to its apex.
function animateStages() {
  if (local.anim) { cancelAnimationFrame(local.anim); local.anim = null; return; }
  const n = state.figures.layer_positions();
  if (n === 0) return;
  let from = stage();
  if (from >= n - 1) from = 0;
  const move = 700;
  const hold = 500;
  let t0 = performance.now();
  setStage(from);
  const tick = (now) => {
    const t = now - t0;
    if (t < move) {
      state.figures.set_stage(from + t / move);
      draw('construct');
    } else if (t < move + hold) {
      if (stage() !== from + 1) setStage(from + 1);
      draw('construct');
    } else {
      from += 1;
      t0 = now;
      if (from >= n - 1) { local.anim = null; return; }
    }
    local.anim = requestAnimationFrame(tick);
  };
  local.anim = requestAnimationFrame(tick);
}

// ---------------------------------------------------------------- homotopy family, outputs against t

function renderFamily() {
  const p = state.figures.family_panel();
  if (!p) return;
  fillSwatchTable($('family-table'), p.rows, {
    s: (r) => r.s, c: (r) => r.cost, st: (r) => r.status, f: (r) => r.fields,
  });
  setText('family-verdict', p.verdict);
}

// The split C = V + B (slide 14) under the neural-collapse figure.
function renderSplit() {
  const p = state.figures.split_panel();
  if (!p) return;
  fillSwatchTable($('split-table'), p.rows, {
    c: (r) => r.cost, v: (r) => r.variance, b: (r) => r.mismatch, k: (r) => r.check,
  });
  setText('split-verdict', p.verdict);
}

function renderReparam() {
  const p = state.figures.reparam_panel();
  if (!p) return;
  setText('reparam-verdict', p.verdict);
  fillReadouts($('reparam-readouts'), p.readouts);
}

// ---------------------------------------------------------------- eigenmodes

function renderModes() {
  const p = state.figures.eigenmodes_panel();
  if (!p) return;
  setText('modes-verdict', p.verdict);
  fillReadouts($('modes-readouts'), p.readouts);
}

registerPanel('critical', renderCritical);
registerPanel('eigenmodes', renderModes);
registerPanel('construct', renderConstruct);
registerPanel('homotopy', renderFamily);
registerPanel('reparam', renderReparam);
registerPanel('collapse', renderSplit);

// ---------------------------------------------------------------- buttons

export function bindPanels(commands) {
  local.commands = commands;
  // A frame that changes size refits the panels' text. The figures are watched, not the texts:
  // an embed's grid fixes a figure's size, while a text's own size changes with every fit.
  const ro = new ResizeObserver(() => fitPanels());
  for (const text of document.querySelectorAll('#plots .panel-text')) ro.observe(text.closest('figure'));
  $('inspect').onclick = () => { if (state.info) local.commands.inspect(Number($('critical-lane').value) || 0); };
  $('escape-button').onclick = () => {
    if (!state.info) return;
    $('escape-button').disabled = true;
    local.commands.escape(Number($('escape-button').dataset.lane) || 0);
  };
  $('use-construct').onclick = () => {
    const hidden = $('use-construct').dataset.hidden;
    if (!hidden) return;
    local.commands.edit('act', 'relu');
    local.commands.edit('net', hidden);
  };
  $('construct-theorem').onchange = (e) => {
    local.commands.edit('construct', e.target.value);
    local.commands.construct();
  };
  // Every move of the slider asks the worker for θ(μ): the cost stays 0, the layer view follows.
  $('mu').addEventListener('input', (e) => {
    local.commands.edit('mu', e.target.value);
    local.commands.construct();
  });
  // A click on the input plane (stage 0) classifies a new input with the construction.
  onFigureClick('construct', (e) => {
    const x = state.figures.probe_input(e.offsetX * dpr(), e.offsetY * dpr());
    if (x) local.commands.classify(Array.from(x));
  });
  $('stage-prev').onclick = () => setStage(stage() - 1);
  $('stage-next').onclick = () => setStage(stage() + 1);
  $('stage-play').onclick = animateStages;
}
