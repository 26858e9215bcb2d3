// The toolbar and the lane table: s, C, the regime badge, the progress bar, play/pause, and one
// row per flow (s, C, rank D, status, steps/s). Written from the worker's frames; nothing here
// sends anything.
import { state } from './state.js';
import { $, fmt, fmtS, fillSwatchTable } from './ui.js';

export function showRegime(d) {
  const badge = $('regime');
  const rel = d.regime === 'over' ? '>' : d.regime === 'under' ? '<' : '=';
  badge.textContent = `${d.regime} · K = ${d.k} ${rel} QN = ${d.qn}`;
  badge.className = `badge chrome ${d.regime}`;
  badge.dataset.value = d.regime;
}

// K, QN and the regime of the settings as edited, before anything loads; false when the settings
// do not describe a network (the message says why).
export function updateSizes() {
  try {
    const d = state.page.describe();
    $('sizes').textContent = `K = ${d.k} parameters, QN = ${d.q}·${d.n} = ${d.qn} outputs: ${d.regime}parametrized`;
    $('sizes').classList.remove('bad');
    showRegime(d);
    return true;
  } catch (e) {
    $('sizes').textContent = e.message;
    $('sizes').classList.add('bad');
    return false;
  }
}

export function updateButtons() {
  $('play').hidden = state.running;
  $('pause').hidden = !state.running;
}

// A fresh run: one table row and one trace choice per flow, the rank formula, the regime.
export function showLoaded(info) {
  // The cells fill with every frame (showFrame).
  const empty = () => '';
  fillSwatchTable($('lanes'), info.lanes, { s: empty, c: empty, r: empty, st: empty, rest: empty, sps: empty });
  const sel = $('trace-lane');
  sel.textContent = '';
  info.lanes.forEach((l, i) => sel.add(new Option(l.label, String(i))));
  showRegime(info);
  const rf = state.figures.rank_formula();
  $('rank-formula').hidden = !rf;
  $('rank-formula').textContent = rf ?? '';
}

// Parameters changed in place: the flows' names (gradient descent's h, the homotopy's α) in the
// table and the trace menu.
export function showTuned(info) {
  const rows = $('lanes').tBodies[0].rows;
  info.lanes.forEach((l, i) => {
    const name = rows[i] && rows[i].querySelector('.name');
    if (name) name.textContent = l.label;
    const opt = $('trace-lane').options[i];
    if (opt) opt.textContent = l.label;
  });
}

export function showProgress(value) {
  $('progress').hidden = false;
  $('progress').value = value;
}

// One frame: the readouts of the first lane, every lane's row, the progress of run-until.
export function showFrame(f) {
  const s = state.figures.s();
  $('s-readout').textContent = fmtS(s);
  $('s-readout').dataset.value = String(s);
  const c = state.lanes[0].cost;
  $('cost-readout').textContent = `${fmt(c)} (${state.info.lanes[0].label})`;
  $('cost-readout').dataset.value = String(c);
  const rows = $('lanes').tBodies[0].rows;
  state.lanes.forEach((l, i) => {
    const r = rows[i];
    if (!r) return;
    r.querySelector('.s').textContent = fmtS(l.s);
    r.querySelector('.c').textContent = fmt(l.cost);
    // The rank the field uses beside the numerical one, when they differ (a singular value in the
    // hysteresis band was dropped): one rank along an orbit, shown as the field used it.
    const rank = l.rank ?? '–';
    r.querySelector('.r').textContent =
      l.rank_used != null && l.rank_used !== l.rank ? `${l.rank_used} used (numerical ${rank})` : String(rank);
    // Under the worker's time budget the spectrum (rank, σ, 𝒫) may lag the state: say by how much.
    const age = l.spectrum_age > 0 ? ` (σ from s − ${fmtS(l.spectrum_age)})` : '';
    r.querySelector('.r').textContent += age;
    r.querySelector('.r').dataset.spectrumAge = String(l.spectrum_age ?? 0);
    r.querySelector('.r').dataset.rank = l.rank ?? '';
    r.querySelector('.r').dataset.rankUsed = l.rank_used ?? '';
    r.querySelector('.st').textContent = l.status;
    r.querySelector('.rest').textContent = l.rest ?? '';
    r.querySelector('.rest').dataset.rest = l.rest ?? '';
    r.querySelector('.sps').textContent = l.steps_per_s > 0 ? l.steps_per_s.toFixed(0) : '–';
  });
  const ends = state.lanes
    .map((l, i) => (l.end ? `${state.info.lanes[i].label}: ${l.end}` : null))
    .filter(Boolean);
  $('end-point').hidden = ends.length === 0;
  $('end-point').textContent = ends.join('\n');
  if (f.progress != null) showProgress(f.progress);
  else if (!state.running) $('progress').hidden = true;
  return s;
}
