// The run, as a conversation with the worker (protocol in README.md, "How the page is built"):
// what to load and when, the commands (play, pause, step, reset, run until, inspect, escape,
// trace), and what each answer changes on the page. The worker integrates; this module keeps
// `state` in step with its answers and hands the drawing to figures.js and panels.js.
import { state, emit, on, metrics, HEAT_SIZE, FAMILY_ALPHAS } from './state.js';
import { setState, pageState, showBanner, status, download } from './ui.js';
import { WorkerClient } from './worker-client.js';
import { markDirty, canvasSize, layoutViews, revealFigure } from './figures.js';
import { renderPanels, renderPanel, schedulePanels, resetCritical, showCritical } from './panels.js';
import { showLoaded, showTuned, showFrame, showProgress, updateButtons } from './readouts.js';

// How long edits settle before the scenario reloads.
const LOAD_DEBOUNCE_MS = 250;

export const client = new WorkerClient({ message: onMessage, restarted, gaveUp });
const timers = { load: null, tune: null };
const post = (msg) => client.post(msg);

export function startSession() {
  client.start();
}

function restarted(reason, { hung }) {
  const wasRunning = state.running;
  state.running = false;
  const resume = wasRunning && !hung;
  showBanner(`${reason}. The worker was restarted and the scenario restored${resume ? '; the run starts again from θ₀' : (hung ? ', paused' : '')}.`);
  state.resumeAfterLoad = resume ? 'play' : null;
  state.loadedKey = '';
  state.loadedFree = '';
  state.familyOn = false;
  // Until the new worker has the scenario again nothing can run; saying so at once also keeps
  // a click on play from going to a worker that is still starting.
  setState('loading');
}

function gaveUp(reason) {
  state.running = false;
  setState('error');
  showBanner(`${reason}. The worker keeps failing, so it was not restarted again; reload the page to try once more.`);
}

// Reads an answer's bulk numbers into the figures; false (and a banner) when they do not fit.
function apply(what, f) {
  try {
    return f();
  } catch (e) {
    showBanner(`Could not read ${what}: ${e.message}`);
    return false;
  }
}

function onMessage(m) {
  const { figures } = state;
  switch (m.type) {
    case 'ready':
      sendSpeed();
      sendLoad();
      break;
    case 'loaded':
      if (!apply('the loaded run', () => { figures.load(m.info, m.bulk); return true; })) return;
      state.info = m.info;
      onLoaded();
      break;
    case 'frame':
      if (apply('a frame', () => figures.apply(m.frame, m.bulk ?? null))) onFrame(m.frame);
      break;
    case 'trace':
      download(`pullback-trace-${state.info.lanes[m.lane].choice.kind}.json`, m.json, 'application/json');
      break;
    case 'critical':
      if (apply('the critical panel', () => figures.apply_critical(m.report, m.bulk ?? null))) onCritical(m.report);
      break;
    case 'construction':
      if (apply('the construction', () => figures.apply_construction(m.report, m.bulk ?? null))) {
        figures.set_stage(Number(state.page.get('stage')) || 0);
        // A new member θ(μ) classifies the clicked input anew.
        if (state.probe) post({ type: 'classify', x: state.probe });
        renderPanel('construct');
        markDirty('construct');
      }
      break;
    case 'classified':
      if (apply('the classification', () => figures.apply_classification(m.report))) {
        renderPanel('construct');
        markDirty('construct');
      }
      break;
    case 'tuned':
      if (apply('the tuned run', () => figures.retune(m.info))) {
        state.info = m.info;
        showTuned(m.info);
        schedulePanels();
        markDirty();
      }
      break;
    case 'modes':
      if (apply('the eigenmodes', () => figures.apply_modes(m.modes, m.bulk ?? null))) {
        markDirty('eigenmodes');
        schedulePanels();
      }
      break;
    case 'family':
      if (apply('the homotopy family', () => figures.apply_family(m.family, m.bulk ?? null))) {
        markDirty('homotopy');
        schedulePanels();
      }
      break;
    case 'ack':
      break;
    case 'error':
      if (m.fatal) client.restart(`The worker failed: ${m.message}`);
      else showBanner(m.message);
      break;
    default:
      showBanner(`Unexpected message from the worker: ${JSON.stringify(m).slice(0, 120)}`);
  }
}

// ---------------------------------------------------------------- what the worker runs

const loadKey = () => state.page.scenario_json() + JSON.stringify(state.page.flows());

// What the worker holds, up to the values `tune` changes in place: the scenario without
// stop.cost_below and the flows without h and α.
function tuneFree(scenario, flows) {
  const sc = JSON.parse(scenario);
  if (sc.stop) delete sc.stop.cost_below;
  return JSON.stringify(sc) + JSON.stringify(flows.map((f) => f.kind));
}

export function sendLoad() {
  clearTimeout(timers.load);
  try {
    state.page.describe();
  } catch (e) {
    return; // the size readout already says what is wrong
  }
  const scenario = state.page.scenario_json();
  const flows = state.page.flows();
  state.loadedKey = scenario + JSON.stringify(flows);
  state.loadedFree = tuneFree(scenario, flows);
  post({ type: 'load', scenario, flows });
}

// h, α or ε changed: when nothing else differs from what the worker runs, the lanes take the new
// values from their current state on (`tune`, no reset: the trace records a `tune` event);
// otherwise the scenario reloads as after any edit. Debounced like loads (a dragged slider).
export function tuneOrLoad() {
  clearTimeout(timers.tune);
  timers.tune = setTimeout(() => {
    const { page } = state;
    let free = '';
    try {
      free = tuneFree(page.scenario_json(), page.flows());
    } catch (e) {
      return;
    }
    if (!state.info || pageState() === 'loading' || free !== state.loadedFree) {
      scheduleLoad();
      return;
    }
    clearTimeout(timers.load);
    const eps = page.get('eps');
    post({
      type: 'tune',
      h: Number(page.get('h')),
      alpha: Number(page.get('alpha')),
      epsilon: eps === undefined || eps === 'none' ? null : Number(eps),
    });
    state.loadedKey = loadKey();
  }, LOAD_DEBOUNCE_MS);
}

// Reloads once the edits settle, and only when the scenario or the flows changed.
export function scheduleLoad() {
  clearTimeout(timers.load);
  timers.load = setTimeout(() => {
    if (loadKey() !== state.loadedKey) {
      state.resumeAfterLoad = state.running ? 'play' : null;
      sendLoad();
    }
  }, LOAD_DEBOUNCE_MS);
}

// Reloads at once when the scenario or the flows changed (the embed API's `set`), playing on if
// the run was playing; whether a load was sent.
export function loadIfChanged() {
  if (loadKey() === state.loadedKey) return false;
  state.resumeAfterLoad = state.running ? 'play' : null;
  sendLoad();
  return loadKey() === state.loadedKey;
}

// Reloads at once (a clicked point), playing on if the run was playing.
export function reload() {
  state.resumeAfterLoad = state.running ? 'play' : null;
  sendLoad();
}

export function sendSpeed() {
  post({ type: 'speed', s_per_second: state.page.speed() ?? null });
}

// The worker runs the homotopy family while its view is shown.
export function syncFamily() {
  if (!state.info) return;
  const want = state.page.views().includes('homotopy');
  if (want && !state.familyOn) {
    post({ type: 'family', alphas: FAMILY_ALPHAS });
    state.familyOn = true;
  } else if (!want && state.familyOn) {
    post({ type: 'family', alphas: null });
    state.figures.clear_family();
    state.familyOn = false;
  }
}

export function requestConstruct() {
  if (state.info && state.page.views().includes('construct')) {
    post({ type: 'construct', ...state.page.construct_request() });
  }
}

// Runs a new input through the construction (a click on the layer view's input plane).
export function classify(x) {
  state.probe = x;
  post({ type: 'classify', x });
}

// The worker computes the decision boundary of the focused flow while its view is shown, at
// about half the canvas's device pixels (it refines from coarse while running to this once paused).
export function sendHeat() {
  const { info } = state;
  if (!info) return;
  const want = state.page.views().includes('boundary') && info.bounds;
  const lane = Math.min(state.page.focus_index(), info.lanes.length - 1);
  const [w, h] = canvasSize('boundary');
  const size = Math.max(HEAT_SIZE, Math.min(400, Math.round(Math.min(w, h) / 2)));
  post({ type: 'heatmap', lane: want ? lane : null, size });
}

// The worker sends the focused flow's network diagram while its view is shown.
function sendNetwork() {
  const { info } = state;
  if (!info) return;
  const lane = Math.min(state.page.focus_index(), info.lanes.length - 1);
  post({ type: 'network', lane: state.page.views().includes('network') ? lane : null });
}

// The worker projects every flow's error on the NTK's modes (and the focused flow's on its
// moving basis) while the eigenmode view is shown.
function sendModes() {
  const { info } = state;
  if (!info) return;
  const want = state.page.views().includes('eigenmodes');
  const lane = Math.min(state.page.focus_index(), info.lanes.length - 1);
  if (!want) state.figures.clear_modes();
  post({ type: 'eigenmodes', lane: want ? lane : null });
}

// The views that need the worker's help, after the chosen views (or the focus) changed.
export function syncViews() {
  sendHeat();
  sendNetwork();
  sendModes();
  syncFamily();
  requestConstruct();
}

// A resized boundary canvas asks for a grid of its new size.
on('resized', (view) => { if (view === 'boundary') sendHeat(); });

// ---------------------------------------------------------------- answers

function onLoaded() {
  const { figures, page, info } = state;
  state.lanes = [];
  state.probe = null;
  state.running = false;
  figures.set_focus(Math.min(page.focus_index(), info.lanes.length - 1));
  const pair = page.pair();
  if (info.q > 2 && pair[0] < info.q && pair[1] < info.q) figures.set_pair(pair[0], pair[1]);
  showLoaded(info);
  syncViews();
  state.prevStatus = [];
  resetCritical();
  renderPanels();
  markDirty();
  setState('ready');
  updateButtons();
  if (!metrics.readyAt) metrics.readyAt = performance.now();
  emit('loaded', info);
  const resume = state.resumeAfterLoad;
  state.resumeAfterLoad = null;
  if (resume) post({ type: resume });
  else if (state.firstLoad && page.autoplay()) autoPlay();
  state.firstLoad = false;
}

function onFrame(f) {
  state.lanes = f.lanes;
  state.running = f.running;
  const s = showFrame(f);
  watchRestPoints();
  schedulePanels();
  const { lanes, info } = state;
  const events = lanes.flatMap((l, i) => l.events.filter((e) => e.kind !== 'rank_change').map((e) => `${info.lanes[i].choice.kind}: ${e.message}`));
  if (events.length) status(events[events.length - 1]);
  else if (f.stopped && f.stopped !== 'step') status(`stopped — ${f.stopped}`);
  setState(state.running ? 'running' : s > 0 ? 'paused' : 'ready');
  updateButtons();
  markDirty();
  emit('frame', f);
}

// A lane that comes to rest or escapes is inspected by the worker (critical submanifold at θ*):
// the panel shows itself when that is a rank-loss equilibrium or an escape.
function watchRestPoints() {
  if (!state.info || !state.info.inspectable) return;
  state.lanes.forEach((l, i) => {
    // At rest: stopped by stationarity, or ended (s_max, …) where the rest test holds.
    const atRest = l.status === 'stationary' || (l.status !== 'running' && (l.rest === 'regular_rest' || l.rest === 'rank_loss_rest'));
    const stopped = atRest && state.prevStatus[i] !== l.status;
    let jumped = l.events.some((e) => e.kind === 'escape' || e.kind === 'no_escape');
    // The Escape button's answer brings its own panel.
    if (jumped && state.manualEscape === i) { jumped = false; state.manualEscape = -1; }
    if (stopped || jumped) post({ type: 'critical', lane: i });
    state.prevStatus[i] = l.status;
  });
}

function onCritical(r) {
  const notable = r.rest?.rest === 'rank_loss_rest' || r.kind === 'rank_loss_equilibrium' || r.at_escape || r.no_escape;
  // The panel appears after the headline, and the flow it describes becomes the focused one
  // (editor.js); it is brought into the window if it is not there.
  if (notable) {
    state.leadView = 'critical';
    if (!state.page.views().includes('critical')) emit('notable-critical', r);
    else layoutViews();
  }
  showCritical(r.lane);
  if (notable) requestAnimationFrame(() => revealFigure('critical'));
}

// ---------------------------------------------------------------- commands

export function play() {
  if (!state.info) return;
  if (pageState() === 'loading') {
    // The worker is (re)loading the scenario: play as soon as it has it.
    state.resumeAfterLoad = 'play';
    return;
  }
  if (state.lanes.length && state.lanes.every((l) => l.status !== 'running')) {
    // Every flow has ended: start over rather than do nothing.
    state.resumeAfterLoad = 'play';
    post({ type: 'reset' });
    return;
  }
  post({ type: 'play' });
  state.running = true;
  setState('running');
  updateButtons();
}

export function pause() {
  if (state.info) post({ type: 'pause' });
}

export function step() {
  if (state.info) post({ type: 'step' });
}

export function reset() {
  if (state.info) post({ type: 'reset' });
}

// ---------------------------------------------------------------- holds (embeds)

// Plays unless something holds the run (autoplay, the deck's slide:start, the embed API's play):
// then it plays once every hold is released.
export function autoPlay() {
  if (state.holds.size) {
    state.resumeWanted = true;
    return;
  }
  if (!state.running) play();
}

// The run may not play by itself for `reason` (the deck left the slide, the frame went off
// screen, the tab was hidden): a playing run pauses and will resume where it was.
export function hold(reason) {
  if (state.holds.has(reason)) return;
  state.holds.add(reason);
  if (state.running || state.resumeAfterLoad === 'play') {
    state.resumeWanted = true;
    state.resumeAfterLoad = null;
    pause();
  }
}

// `reason` no longer holds the run; the last release resumes a run that a hold paused.
export function release(reason) {
  if (!state.holds.delete(reason)) return;
  if (state.holds.size === 0 && state.resumeWanted) {
    state.resumeWanted = false;
    if (!state.running) play();
  }
}

export function togglePlay() {
  if (state.running) pause();
  else play();
}

export function runUntil() {
  if (!state.info) return;
  if (state.info.epsilon == null) {
    showBanner('eps: set ε (stop at C ≤ ε) to run until the cost reaches it.');
    return;
  }
  showProgress(0);
  post({ type: 'run_until' });
  state.running = true;
  setState('running');
  updateButtons();
}

export function inspect(lane) {
  post({ type: 'critical', lane });
}

export function escape(lane) {
  state.manualEscape = lane;
  post({ type: 'escape', lane });
}

export function requestTrace(lane) {
  if (state.info) post({ type: 'trace', lane });
}
