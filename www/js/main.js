// The Pullback page: loads the wasm module, reads the settings from the hash and wires the
// modules together. The module worker integrates; this thread turns input into settings (wasm
// `Page`), worker messages into figures (wasm `Figures`) and figures into pixels.
//
//   state.js     shared state, constants, events       ui.js        DOM helpers
//   testing.js   the test flag and window.pullback     worker-client.js  the worker's lifecycle
//   figures.js   canvases, the figure registry         panels.js    panel text, the panel registry
//   readouts.js  toolbar and lane table                session.js   the run: messages, commands
//   editor.js    settings, points, CSV                 embed.js     hash, embed mode, share links
//   api.js       the embed API (postMessage), holds on the run while off screen
//   network.js   the network diagram's +/− buttons
//
// Imports point one way, down: state, ui, testing ← worker-client, figures ← panels, readouts ←
// session; state, ui ← embed; session, embed ← editor ← api ← main; figures ← network ← main.
// News that travels up (a run loaded, a rest point to show) is an event (state.js).
import init, { Figures, presets, install_panic_hook } from '../pkg/pullback.js';
import { state, metrics } from './state.js';
import { $, setState, showBanner, download } from './ui.js';
import { installTestHooks } from './testing.js';
import { setupFigures, layoutViews, startDrawLoop } from './figures.js';
import { bindPanels } from './panels.js';
import {
  client, startSession, sendLoad, sendSpeed, play, pause, step, reset, runUntil, togglePlay,
  inspect, escape, requestTrace, requestConstruct, classify,
} from './session.js';
import { edit, renderEditor, bindEditor, buildPresetMenu } from './editor.js';
import { readHash, hashIsCurrent, writeHash, bindShare } from './embed.js';
import { installEmbedApi } from './api.js';
import { bindNetwork } from './network.js';

function bindToolbar() {
  $('banner-close').onclick = () => { $('banner').hidden = true; };
  $('play').onclick = play;
  $('pause').onclick = pause;
  $('step').onclick = step;
  $('reset').onclick = reset;
  $('run-until').onclick = runUntil;
  $('download-trace').onclick = () => requestTrace(Number($('trace-lane').value) || 0);
  $('download-csv').onclick = () => download('pullback-cost.csv', state.figures.cost_csv(), 'text/csv');
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest && e.target.closest('input, select, textarea')) return;
    // Space toggles even when a button has the focus (it would click that button otherwise).
    if (e.key === ' ') { e.preventDefault(); togglePlay(); }
    else if (e.key === '.') step();
    else if (e.key === 'r' || e.key === 'R') reset();
  });
}

// The explanation under the figures is open the first time and then as the user left it (the
// browser's storage; where there is none, it is open).
const EXPLAIN_KEY = 'pullback.explain';
function bindExplain() {
  const fold = $('explain-fold');
  try {
    if (localStorage.getItem(EXPLAIN_KEY) === 'closed') fold.open = false;
  } catch (e) { /* no storage (a sandboxed frame): open */ }
  fold.addEventListener('toggle', () => {
    try { localStorage.setItem(EXPLAIN_KEY, fold.open ? 'open' : 'closed'); } catch (e) { /* no storage */ }
  });
}

// A hash typed or pasted into the address bar replaces the settings and reloads the run.
function onHashChange() {
  if (hashIsCurrent()) return;
  readHash();
  renderEditor();
  layoutViews();
  writeHash();
  sendSpeed();
  state.resumeAfterLoad = state.page.autoplay() ? 'play' : null;
  sendLoad();
}

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
  state.figures = new Figures();
  readHash();
  buildPresetMenu(presets());
  setupFigures();
  bindToolbar();
  bindEditor();
  bindShare();
  bindPanels({ inspect, escape, edit, construct: requestConstruct, classify });
  bindNetwork({ edit });
  bindExplain();
  window.addEventListener('hashchange', onHashChange);
  renderEditor();
  layoutViews();
  writeHash();
  startSession();
  startDrawLoop();
}

installTestHooks({ state, metrics, client });
installEmbedApi();
boot();
