// The editor: data, network, flows, run and view settings. Every edit goes through the wasm
// `Page` (which validates it and names the field it refuses), then the page follows: the hash, the
// form, the figures shown, and (debounced) the scenario in the worker. Also the points clicked on
// the input plane and the CSV import and export.
import { state, on, CLASS_COLORS } from './state.js';
import { $, showBanner, download } from './ui.js';
import { markDirty, layoutViews, onFigureClick, figureRatio } from './figures.js';
import { renderPanels } from './panels.js';
import { updateSizes } from './readouts.js';
import { scheduleLoad, reload, sendSpeed, syncViews, tuneOrLoad } from './session.js';
import { writeHash } from './embed.js';

// Radius (CSS px) around a shift-click within which a point is removed.
const REMOVE_RADIUS_PX = 12;
// The keys a running comparison takes in place (session.js: tuneOrLoad).
const LIVE = new Set(['h', 'alpha', 'eps']);
// Width of a hidden layer added by "+ hidden layer".
const NEW_LAYER_WIDTH = 8;
// Fields typed as text: an empty eps or smax means 'none'.
const FIELDS = ['N', 'noise', 'Q', 'dim', 'seed', 'h', 'eps', 'smax', 'pair'];
const OPTIONAL = new Set(['eps', 'smax']);

// ---------------------------------------------------------------- applying an edit

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
export function edit(key, value, el) {
  try {
    state.page.set(key, value);
  } catch (e) {
    fieldError(el, e.message);
    $('sizes').classList.add('bad');
    return false;
  }
  if (el) fieldError(el, '');
  afterEdit(key);
  return true;
}

// What follows an accepted edit of `key` (also a preset chosen, a CSV imported, a point clicked).
export function afterEdit(key) {
  const { page, figures, info } = state;
  writeHash();
  renderEditor();
  // Reloads only when the scenario or the flows changed; h, α and ε change a run in place.
  if (LIVE.has(key)) tuneOrLoad();
  else scheduleLoad();
  // A chosen preset may bring its own views (share::preset_views).
  if (key === 'view' || key === 'preset') { layoutViews(); syncViews(); renderPanels(); }
  if (key === 'speed') sendSpeed();
  if (key === 'focus' && info) {
    figures.set_focus(Math.min(page.focus_index(), info.lanes.length - 1));
    syncViews();
    markDirty();
  }
  if (key === 'stage' && info) {
    figures.set_stage(Number(page.get('stage')) || 0);
    renderPanels();
    markDirty('construct');
  }
  if (key === 'pair' && info) {
    const p = page.pair();
    try { figures.set_pair(p[0], p[1]); } catch (e) { showBanner(e.message); }
    markDirty();
  }
}

// ---------------------------------------------------------------- the form from the settings

export function renderEditor() {
  const { page } = state;
  const focused = document.activeElement;
  const set = (key) => {
    const el = $(key);
    const v = page.get(key);
    el.disabled = v === undefined;
    if (el !== focused) el.value = v === undefined ? '' : v === 'none' && OPTIONAL.has(key) ? '' : v;
  };
  const kind = page.get('data') ?? 'custom';
  $('data').querySelector('option[value=custom]').disabled = kind !== 'custom';
  $('data').value = kind;
  [...FIELDS, 'alpha'].forEach(set);
  $('act').value = page.get('act');
  $('cost').value = page.get('cost');
  $('escape').checked = page.get('escape') === '1';
  $('alpha-value').textContent = page.get('alpha');
  const speed = page.get('speed');
  if (![...$('speed').options].some((o) => o.value === speed)) $('speed').add(new Option(`${speed} s/sec`, speed));
  $('speed').value = speed;
  const preset = page.preset();
  $('preset').value = preset ?? '';
  for (const card of $('preset-cards').children) card.setAttribute('aria-pressed', String(card.dataset.preset === preset && !page.edited()));
  const p = state.presets.find((x) => x.name === preset);
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
  const net = state.page.get('net');
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
      const now = state.page.get('net').split(',');
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

// The class buttons of the input plane, for the loaded data.
function buildClasses() {
  const box = $('classes');
  box.textContent = '';
  if (!state.info.bounds) return;
  const n = Math.min(state.info.classes, CLASS_COLORS.length);
  if (state.selectedClass >= n) state.selectedClass = 0;
  for (let c = 0; c < n; c++) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = `class${c === state.selectedClass ? ' on' : ''}`;
    b.style.background = CLASS_COLORS[c];
    b.title = `clicks add points of class ${c + 1}`;
    b.textContent = String(c + 1);
    b.onclick = () => { state.selectedClass = c; buildClasses(); };
    box.append(b);
  }
}

export function buildPresetMenu(list) {
  state.presets = list;
  const sel = $('preset');
  sel.add(new Option('(custom scenario)', ''));
  sel.options[0].disabled = true;
  for (const p of list) sel.add(new Option(p.name, p.name));
  // The same presets as cards: the name and its story; the summary (with the numbers) on hover.
  const cards = $('preset-cards');
  for (const p of list) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.preset = p.name;
    b.title = p.summary;
    const name = document.createElement('b');
    name.textContent = p.name;
    const story = document.createElement('span');
    story.textContent = p.story;
    b.append(name, story);
    b.onclick = () => choosePreset(p.name);
    cards.append(b);
  }
}

function choosePreset(name) {
  try { state.page.choose_preset(name); } catch (err) { showBanner(err.message); return; }
  state.leadView = null;
  afterEdit('preset');
}

// ---------------------------------------------------------------- points and CSV

// A click on the input plane adds a point of the selected class, a shift-click removes the
// nearest one within REMOVE_RADIUS_PX; the data becomes custom and reloads at once.
function clickPlane(e) {
  const { page, figures } = state;
  if (page.embed()) return;
  const k = figureRatio('boundary');
  const p = figures.input_at(e.offsetX * k, e.offsetY * k);
  if (!p) return;
  try {
    if (e.shiftKey) {
      const r = figures.input_radius(REMOVE_RADIUS_PX * k);
      if (!page.remove_point(p[0], p[1], r)) return;
    } else {
      page.add_point(p[0], p[1], state.selectedClass);
    }
  } catch (err) {
    showBanner(err.message);
    return;
  }
  afterEdit('data');
  reload();
}

async function importCsv(e) {
  const file = e.target.files[0];
  if (!file) return;
  try {
    state.page.import_csv(await file.text());
  } catch (err) {
    showBanner(`${file.name}: ${err.message}`);
    return;
  } finally {
    e.target.value = '';
  }
  afterEdit('data');
}

// ---------------------------------------------------------------- bindings

export function bindEditor() {
  $('preset').onchange = (e) => choosePreset(e.target.value);
  for (const id of ['speed', 'data', 'act', 'focus']) $(id).onchange = (e) => edit(id, e.target.value, e.target);
  for (const id of FIELDS) {
    const el = $(id);
    el.addEventListener('input', () => {
      const v = el.value.trim();
      edit(id, v === '' && OPTIONAL.has(id) ? 'none' : v, el);
    });
    el.addEventListener('change', () => { fieldError(el, ''); renderEditor(); });
  }
  $('alpha').addEventListener('input', (e) => edit('alpha', e.target.value, e.target));
  // A checkbox list edits one key; a refused edit (no flow left) ticks the box again.
  const bindList = (selector, key) => document.querySelectorAll(selector).forEach((cb) => {
    cb.onchange = () => {
      const values = [...document.querySelectorAll(selector)].filter((x) => x.checked).map((x) => x.value);
      if (!edit(key, values.join(','), cb)) cb.checked = true;
    };
  });
  bindList('input.flow', 'flows');
  bindList('input.view', 'view');
  $('escape').onchange = (e) => edit('escape', e.target.checked ? '1' : '0', e.target);
  $('cost').onchange = (e) => edit('cost', e.target.value, e.target);
  $('add-layer').onclick = () => {
    const net = state.page.get('net');
    edit('net', net === 'none' ? String(NEW_LAYER_WIDTH) : `${net},${NEW_LAYER_WIDTH}`);
  };
  $('regenerate').onclick = () => edit('seed', String(Math.floor(Math.random() * 1e6)));
  $('import').onchange = importCsv;
  $('export-data').onclick = () => {
    try { download('pullback-data.csv', state.page.export_csv(), 'text/csv'); } catch (err) { showBanner(err.message); }
  };
  onFigureClick('boundary', clickPlane);
  on('loaded', buildClasses);
  // A rest point worth seeing: its panel appears, and its flow becomes the focused one (singular
  // values).
  on('notable-critical', (r) => {
    edit('view', [...state.page.views(), 'critical'].join(','));
    edit('focus', state.info.lanes[r.lane].choice.kind);
  });
}
