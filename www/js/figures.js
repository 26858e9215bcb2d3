// The figures: one canvas per view (`figure[data-view]` in index.html), sized in device pixels,
// drawn one per animation frame when something changed. The drawing itself is the wasm module's
// (`Figures.draw`, plotters on the canvas); this module decides what to draw when, shows the hover
// text and saves PNGs.
//
// The registry maps a view to its figure and its renderer. Every view of index.html is drawn by
// the wasm `Figures` unless registerFigure gives it another renderer: a new figure is a
// `<figure data-view=…>` with a canvas, a view name the wasm `Page` accepts, and (when it is not
// drawn by `Figures`) one registerFigure call.
import { state, metrics, note } from './state.js';
import { $, dpr, showBanner, download } from './ui.js';

// The wasm module draws and reads the cursor.
const wasmRenderer = {
  draw: (view, canvas, ratio) => state.figures.draw(view, canvas, ratio),
  hover: (view, x, y) => state.figures.hover(view, x, y),
};

const registry = new Map(); // view → { view, figure, canvas, renderer, click }
const dirty = new Set();
const lastDraw = {};
// Views whose figure is (partly) in the viewport; all of them until the observer says otherwise.
const onScreen = new Set();

export function registerFigure(view, renderer = wasmRenderer) {
  const figure = document.querySelector(`figure[data-view="${view}"]`);
  const entry = { view, figure, canvas: figure.querySelector('canvas'), renderer, click: null };
  registry.set(view, entry);
  onScreen.add(view);
  return entry;
}

// What a click on a view's canvas does (the input plane adds and removes points).
export function onFigureClick(view, handler) {
  registry.get(view).click = handler;
}

export function markDirty(view) {
  if (view) dirty.add(view);
  else for (const v of registry.keys()) dirty.add(v);
}

// Shows the chosen views, hides the others.
export function layoutViews() {
  const views = state.page.views();
  for (const { view, figure } of registry.values()) figure.hidden = !views.includes(view);
  document.body.style.setProperty('--views', String(views.length));
  markDirty();
}

function sizeCanvas(c) {
  const r = c.getBoundingClientRect();
  const w = Math.max(1, Math.round(r.width * dpr()));
  const h = Math.max(1, Math.round(r.height * dpr()));
  if (c.width !== w || c.height !== h) {
    c.width = w;
    c.height = h;
    markDirty(c.closest('figure[data-view]').dataset.view);
  }
}

// Registers every figure of the page and watches its size, visibility, cursor and PNG button.
export function setupFigures() {
  for (const fig of document.querySelectorAll('figure[data-view]')) {
    if (!registry.has(fig.dataset.view)) registerFigure(fig.dataset.view);
  }
  const ro = new ResizeObserver((entries) => entries.forEach((e) => sizeCanvas(e.target)));
  const io = new IntersectionObserver((entries) => entries.forEach((e) => {
    const v = e.target.dataset.view;
    if (e.isIntersecting) onScreen.add(v);
    else onScreen.delete(v);
  }));
  const tip = $('tooltip');
  for (const { view, figure, canvas: c, renderer } of registry.values()) {
    ro.observe(c);
    io.observe(figure);
    c.addEventListener('mousemove', (e) => {
      const text = renderer.hover(view, e.offsetX * dpr(), e.offsetY * dpr());
      if (!text) { tip.hidden = true; return; }
      tip.textContent = text;
      tip.hidden = false;
      const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 4);
      tip.style.left = `${Math.max(4, x)}px`;
      tip.style.top = `${e.clientY + 14}px`;
    });
    c.addEventListener('mouseleave', () => { tip.hidden = true; });
    c.addEventListener('click', (e) => { const f = registry.get(view).click; if (f) f(e); });
    figure.querySelector('button.png').onclick = () => c.toBlob((b) => download(`pullback-${view}.png`, b));
  }
  matchMedia(`(resolution: ${dpr()}dppx)`).addEventListener('change', () => {
    for (const { canvas } of registry.values()) sizeCanvas(canvas);
  });
}

export function draw(view) {
  const { canvas: c, renderer } = registry.get(view);
  if (c.width < 8 || c.height < 8) return;
  const t0 = performance.now();
  try {
    renderer.draw(view, c, dpr());
  } catch (e) {
    showBanner(`Drawing the ${view} figure failed: ${e.message}`);
  }
  const t1 = performance.now();
  note(`draw ${view}`, t1 - t0);
  metrics.drawCost[view] = t1 - t0;
  lastDraw[view] = t1;
  dirty.delete(view);
}

function drawLoop(now) {
  requestAnimationFrame(drawLoop);
  if (!state.figures) return;
  // One figure per animation frame, each at most every few of its own drawing times while
  // running: drawing never hogs the main thread.
  let pick = null;
  for (const v of state.page.views()) {
    if (!dirty.has(v) || !onScreen.has(v) || !registry.has(v)) continue;
    const wait = state.running ? Math.max(150, 5 * (metrics.drawCost[v] || 0)) : 0;
    if (now - (lastDraw[v] || 0) < wait) continue;
    if (!pick || (lastDraw[v] || 0) < (lastDraw[pick] || 0)) pick = v;
  }
  if (pick) draw(pick);
}

export function startDrawLoop() {
  requestAnimationFrame(drawLoop);
}
