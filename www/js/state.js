// What the page's modules share: the settings and figures objects of the wasm module, the run as
// the worker last described it, and a few constants. One object instead of loose variables, so
// that every module reads and writes the same fields. Timers and handles that only one module
// uses stay in that module.

// Least side of the decision-boundary grid the page asks for, in cells (it asks for about half the
// canvas's device pixels; the worker computes less while running).
export const HEAT_SIZE = 48;
// The homotopy family drawn side by side: the standard flow, three blends, the adapted flow.
export const FAMILY_ALPHAS = [0, 0.25, 0.5, 0.75, 1];
// Least time between two refreshes of a panel's text while running.
export const PANEL_EVERY_MS = 300;
// The class buttons of the editor (the figures' own palette is in the wasm module).
export const CLASS_COLORS = ['#e69f00', '#56b4e9', '#009e73', '#cc79a7', '#d55e00', '#0072b2', '#f0e442', '#646464'];

export const state = {
  /** wasm `Page`: the settings, the hash, the data edits. */
  page: null,
  /** wasm `Figures`: the history received from the worker, drawn on the canvases. */
  figures: null,
  /** The worker's `loaded` description of the run (lanes, sizes, bounds), or null before it. */
  info: null,
  /** The lanes of the last frame. */
  lanes: [],
  /** Whether the worker is integrating (as the last frame or command says). */
  running: false,
  /** A command ('play') to send once the worker has (re)loaded the scenario. */
  resumeAfterLoad: null,
  /** Scenario and flows last sent to the worker, to reload only when they change. */
  loadedKey: '',
  /** The same without ε, h and α, which `tune` changes in place. */
  loadedFree: '',
  /** True until the first scenario has loaded (autoplay applies once). */
  firstLoad: true,
  /** Whether the worker runs the homotopy family. */
  familyOn: false,
  /** Status of each lane in the previous frame, to notice a lane coming to rest. */
  prevStatus: [],
  /** The lane of an Escape click whose answer is pending (its panel comes with it), or −1. */
  manualEscape: -1,
  /** The class of points a click on the input plane adds. */
  selectedClass: 0,
  /** The presets of the wasm module: [{ name, summary, story, views }] (views: what choosing it
   * adds, the panel it is about first). */
  presets: [],
  /** A panel that asked to be seen (a rest point's critical panel): it follows the headline. */
  leadView: null,
  /** Why the run may not play by itself now (session.js `hold`): 'slide' (the deck left the
   * slide), 'viewport' (the frame is off screen), 'hidden' (the tab is hidden). */
  holds: new Set(),
  /** Whether the run plays again once every hold is released (it was playing, or asked to). */
  resumeWanted: false,
  /** The input last clicked on the constructive panel's input plane (classified), or null. */
  probe: null,
};

// Figures for the end-to-end tests and the curious: time to the first loaded scenario, the drawing
// time of each figure, the slowest piece of main-thread work so far.
export const metrics = { readyAt: 0, drawCost: {}, slowest: { what: '', ms: 0 } };

export function note(what, ms) {
  if (ms > metrics.slowest.ms) metrics.slowest = { what, ms };
}

// What happened, for modules that must react without being called by name (lower modules never
// import higher ones): 'loaded' (the worker has a scenario; detail: info), 'frame' (a frame was
// shown; detail: the frame), 'notable-critical' (the worker found a rest point worth showing;
// detail: the report) and 'resized' (a view's canvas changed size; detail: the view).
export const events = new EventTarget();
export const emit = (type, detail) => events.dispatchEvent(new CustomEvent(type, { detail }));
export const on = (type, f) => events.addEventListener(type, (e) => f(e.detail));
