// The embed API: a page that frames this one (a slide deck, a course page) drives the run over
// postMessage, and hears what it does. README.md, "Embedding", is the public description; the
// format is public and stable (add methods and fields, never rename them).
//
//   to the page    {pullback: 1, id, method, args}   method: play, pause, reset, step, set, getState
//   from the page  {pullback: 1, id, result} | {pullback: 1, id, error: {field, message}}
//                  {pullback: 1, event: 'ready' | 'state' | 'ended', state}
//   state          {state, s, flows: [{name, s, cost, status}]}
//
// reveal.js posts the plain strings "slide:start" and "slide:stop" to the iframes of the slide it
// enters and leaves; they resume and pause the run. Besides, a framed page pauses while its
// frame is off screen or its tab hidden, and resumes where it was (session.js: hold, release).
//
// The API only reads the run and drives it as the page's own buttons do: any origin may use it,
// answers go back to the asker's origin, events to the parent with target origin '*'. Nothing is
// secret here (the scenario is in the address anyway).
import { state, on } from './state.js';
import { pageState } from './ui.js';
import { play, pause, step, reset, autoPlay, hold, release, loadIfChanged } from './session.js';
import { afterEdit } from './editor.js';
import { showEmbedMode } from './embed.js';

export const API_VERSION = 1;
const METHODS = ['play', 'pause', 'reset', 'step', 'set', 'getState'];
// While running, at most one 'state' event per this many ms (every change of the page's state is
// sent at once).
const STATE_EVERY_MS = 250;
// How long `set` waits for the worker to load the new scenario before answering with an error.
const SET_TIMEOUT_MS = 30000;
// Keys that move a reveal.js deck, forwarded to the parent when they reach an embed (reveal.js
// accepts `{"method": …}` JSON text from frames, its `postMessage` option, on by default).
const DECK_KEYS = {
  ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down', PageUp: 'prev', PageDown: 'next',
};

const framed = window.parent !== window;
const local = {
  ready: false,
  // Messages that arrived before the first scenario loaded, handled in order once it has.
  queue: [],
  lastState: 0,
  // A 'state' event held back by the rate limit, sent when the limit allows.
  stateTimer: null,
  lastPageState: '',
  // Whether some lane was running in the previous frame: 'ended' fires on the edge.
  anyRunning: false,
  // Answers of `set` waiting for the worker's `loaded`: [{ reply, timer }].
  awaitingLoad: [],
};

// The run as the API describes it.
export function snapshot() {
  const { info, lanes } = state;
  const s = info && state.figures ? state.figures.s() : 0;
  const flows = info ? info.lanes.map((l, i) => {
    const f = lanes[i];
    return { name: l.choice.kind, s: f ? f.s : 0, cost: f ? f.cost : info.c0, status: f ? f.status : 'running' };
  }) : [];
  return { state: pageState(), s, flows };
}

function emitEvent(event) {
  if (!framed) return;
  window.parent.postMessage({ pullback: API_VERSION, event, state: snapshot() }, '*');
}

class ApiError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

// ---------------------------------------------------------------- validating a message

function checkId(id) {
  if (id === undefined || id === null || typeof id === 'string') return id ?? null;
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  throw new ApiError('id', `id: expected a string or a finite number, got ${describe(id)}`);
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return typeof v === 'object' ? 'an object' : typeof v;
}

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)
  && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

// `set`'s arguments as [key, text] pairs, in the order the hash applies them: preset, scenario,
// then the rest as given.
function settingsOf(args) {
  if (!isPlainObject(args)) throw new ApiError('args', `args: set takes an object of URL-hash keys, e.g. {h: 0.1, flows: "adapted,gd"}; got ${describe(args)}`);
  const pairs = [];
  for (const [key, v] of Object.entries(args)) {
    let text;
    if (typeof v === 'string') text = v;
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new ApiError(`args.${key}`, `${key}: ${describe(v)} is not a finite number`);
      text = String(v);
    } else if (typeof v === 'boolean') text = v ? '1' : '0';
    else throw new ApiError(`args.${key}`, `${key}: expected a string, a number or a boolean, got ${describe(v)}`);
    pairs.push([key, text]);
  }
  const rank = (k) => (k === 'preset' ? 0 : k === 'scenario' ? 1 : 2);
  return pairs.sort((a, b) => rank(a[0]) - rank(b[0]));
}

// ---------------------------------------------------------------- the methods

// Applies URL-hash keys on a copy of the settings, through the same parser as the hash (wasm
// `Page.set`, src/app/share.rs); all or nothing. Resolves once the worker has the new scenario.
function set(args) {
  const pairs = settingsOf(args);
  const next = state.page.copy();
  const failed = [];
  for (const [key, text] of pairs) {
    try {
      next.set(key, text);
    } catch (e) {
      failed.push([key, e.message]);
    }
  }
  if (!failed.length) {
    try {
      next.describe();
    } catch (e) {
      const blame = pairs.find(([k]) => k !== 'view' && k !== 'speed' && k !== 'focus') || pairs[0] || ['args'];
      failed.push([blame[0], e.message]);
    }
  }
  if (failed.length) {
    next.free();
    const message = failed.map(([k, m]) => (m.startsWith(`${k}:`) ? m : `${k}: ${m}`)).join('; ');
    throw new ApiError(failed[0][0] === 'args' ? 'args' : `args.${failed[0][0]}`, message);
  }
  state.page.free();
  state.page = next;
  for (const [key] of pairs) afterEdit(key);
  showEmbedMode();
  if (!pairs.length) return snapshot();
  if (!loadIfChanged()) return snapshot();
  return new Promise((resolve, reject) => {
    const entry = { resolve, reject };
    entry.timer = setTimeout(() => {
      local.awaitingLoad = local.awaitingLoad.filter((x) => x !== entry);
      reject(new ApiError('args', `the worker did not load the new scenario within ${SET_TIMEOUT_MS / 1000} s`));
    }, SET_TIMEOUT_MS);
    local.awaitingLoad.push(entry);
  });
}

function noArgs(method, args) {
  if (args === undefined || args === null) return;
  if (isPlainObject(args) && Object.keys(args).length === 0) return;
  throw new ApiError('args', `args: ${method} takes no arguments, got ${describe(args)}`);
}

const handlers = {
  play: () => {
    // The deck asks: the slide hold goes; off screen or hidden, the run starts once visible.
    state.holds.delete('slide');
    autoPlay();
    return snapshot();
  },
  pause: () => {
    state.resumeWanted = false;
    state.resumeAfterLoad = null;
    pause();
    return snapshot();
  },
  reset: () => { state.resumeWanted = false; reset(); return snapshot(); },
  step: () => { step(); return snapshot(); },
  getState: () => snapshot(),
  set,
};

async function handle(msg, reply) {
  let id = null;
  try {
    id = checkId(msg.id);
    if (msg.pullback !== API_VERSION) {
      throw new ApiError('pullback', `pullback: this page speaks version ${API_VERSION} of the embed API, got ${describe(msg.pullback)}`);
    }
    const { method } = msg;
    if (typeof method !== 'string' || !METHODS.includes(method)) {
      throw new ApiError('method', `method: ${describe(method)} is not one of ${METHODS.join(', ')}`);
    }
    if (method !== 'set') noArgs(method, msg.args);
    const result = await handlers[method](msg.args);
    reply({ pullback: API_VERSION, id, result });
  } catch (e) {
    const field = e instanceof ApiError ? e.field : 'method';
    reply({ pullback: API_VERSION, id, error: { field, message: e.message || String(e) } });
  }
}

// ---------------------------------------------------------------- messages

function onMessage(e) {
  let data = e.data;
  if (data === 'slide:start') { slideStart(); return; }
  if (data === 'slide:stop') { hold('slide'); return; }
  const target = e.source && typeof e.source.postMessage === 'function' ? e.source : null;
  const origin = e.origin && e.origin !== 'null' ? e.origin : '*';
  const reply = (m) => { if (target) target.postMessage(m, origin); };
  // JSON text is accepted when it is meant for us (reveal.js' own API speaks JSON text too).
  if (typeof data === 'string' && data.startsWith('{') && data.includes('"pullback"')) {
    try {
      data = JSON.parse(data);
    } catch (err) {
      reply({ pullback: API_VERSION, id: null, error: { field: 'message', message: `message: not valid JSON (${err.message})` } });
      return;
    }
  }
  // Everything else on this channel belongs to someone else (other libraries post here too).
  if (data === null || typeof data !== 'object' || !('pullback' in data)) return;
  if (!local.ready) {
    local.queue.push([data, reply]);
    return;
  }
  handle(data, reply);
}

// reveal.js entered the slide: resume what slide:stop paused, or start with autoplay=1 when the
// run has not started yet.
function slideStart() {
  release('slide');
  if (local.ready && state.page.autoplay() && !state.running && pageState() === 'ready') autoPlay();
}

// ---------------------------------------------------------------- events

function onFrame() {
  const anyRunning = state.lanes.some((l) => l.status === 'running');
  if (local.anyRunning && !anyRunning) emitEvent('ended');
  local.anyRunning = anyRunning;
  sendState();
}

// A 'state' event now, or as soon as STATE_EVERY_MS allows: the last state is never dropped.
function sendState() {
  if (local.stateTimer !== null) return;
  const wait = STATE_EVERY_MS - (performance.now() - local.lastState);
  const send = () => {
    local.stateTimer = null;
    local.lastState = performance.now();
    emitEvent('state');
  };
  if (wait <= 0) send();
  else local.stateTimer = setTimeout(send, wait);
}

function onPageState() {
  const s = pageState();
  if (s === local.lastPageState) return;
  local.lastPageState = s;
  if (!local.ready) return;
  clearTimeout(local.stateTimer);
  local.stateTimer = null;
  local.lastState = performance.now();
  emitEvent('state');
}

function onLoaded() {
  local.anyRunning = false;
  for (const w of local.awaitingLoad.splice(0)) {
    clearTimeout(w.timer);
    w.resolve(snapshot());
  }
  if (local.ready) return;
  local.ready = true;
  emitEvent('ready');
  for (const [data, reply] of local.queue.splice(0)) handle(data, reply);
}

// ---------------------------------------------------------------- focus and visibility

// A click inside an embed takes the keyboard from the deck: Esc gives it back, and the deck's
// navigation keys are passed on to a reveal.js parent meanwhile.
function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest && e.target.closest('input, select, textarea')) return;
  if (e.key === 'Escape') {
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    window.parent.focus();
    return;
  }
  const method = DECK_KEYS[e.key];
  if (method && state.page && state.page.embed()) {
    e.preventDefault();
    window.parent.postMessage(JSON.stringify({ method, args: [] }), '*');
  }
}

// Off screen (the deck moved on, the frame scrolled away) or in a hidden tab, a framed page holds
// its run. Until the observer has seen the frame on screen it counts as off screen: a preloaded
// slide must not start playing behind the current one.
function watchVisibility() {
  hold('viewport');
  new IntersectionObserver((entries) => {
    const e = entries[entries.length - 1];
    if (e.isIntersecting) release('viewport');
    else hold('viewport');
  }).observe(document.documentElement);
  const onVisibility = () => (document.hidden ? hold('hidden') : release('hidden'));
  document.addEventListener('visibilitychange', onVisibility);
  onVisibility();
}

// Listens at once (before the wasm module loads), so that no message is lost.
export function installEmbedApi() {
  window.addEventListener('message', onMessage);
  on('loaded', onLoaded);
  on('frame', onFrame);
  new MutationObserver(onPageState).observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
  if (framed) {
    document.addEventListener('keydown', onKey);
    watchVisibility();
  }
}
