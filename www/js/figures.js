// The figures: one canvas per view (`figure[data-view]` in index.html), sized in device pixels,
// drawn one per animation frame when something changed. The drawing itself is the wasm module's
// (`Figures.draw`, plotters on the canvas); this module decides what to draw when, shows the hover
// text and saves PNGs.
//
// The registry maps a view to its figure and its renderer. Every view of index.html is drawn by
// the wasm `Figures` unless registerFigure gives it another renderer: a new figure is a
// `<figure data-view=…>` with a canvas, a view name the wasm `Page` accepts, and (when it is not
// drawn by `Figures`) one registerFigure call.
import { state, metrics, note, emit } from './state.js';
import { $, dpr, showBanner, download } from './ui.js';

// The wasm module draws and reads the cursor.
const wasmRenderer = {
  draw: (view, canvas, ratio) => state.figures.draw(view, canvas, ratio),
  hover: (view, x, y) => state.figures.hover(view, x, y),
};

const registry = new Map(); // view → { view, figure, canvas, renderer, click, ratio }
// Most device pixels per CSS pixel a backing store gets (a 4× zoomed frame on a 2× screen would
// otherwise allocate 64 times the pixels).
const MAX_RATIO = 4;
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

// The headline's figures, in this order, on the page's first screen.
const HEADLINE = ['network', 'cost', 'outputs'];

// The panel the page leads with after the headline: one that asked to be seen (a rest point's
// critical panel), else the one the preset is about (the first of its views), when shown.
function leadView(views) {
  if (state.leadView && views.includes(state.leadView)) return state.leadView;
  const p = state.presets.find((x) => x.name === state.page.preset());
  const lead = p && p.views && p.views[0];
  return lead && views.includes(lead) ? lead : null;
}

// Shows the chosen views, hides the others. On the page the headline comes first, then the lead
// panel, then the rest in the document's order; an embed keeps the order of the document.
export function layoutViews() {
  const views = state.page.views();
  const embed = document.body.classList.contains('embed');
  const lead = embed ? null : leadView(views);
  let k = 0;
  for (const { view, figure } of registry.values()) {
    figure.hidden = !views.includes(view);
    const head = HEADLINE.indexOf(view);
    figure.style.order = embed ? '' : String(head >= 0 ? 1 + head : view === lead ? 1 + HEADLINE.length : 10 + k);
    k += 1;
  }
  document.body.style.setProperty('--views', String(views.length));
  layoutEmbedGrid();
  markDirty();
}

// Brings a view that just appeared into the window when it is not wholly inside (a rest point's
// panel: the user should not have to look for it) and outlines it for a moment.
export function revealFigure(view) {
  const e = registry.get(view);
  if (!e || e.figure.hidden || document.body.classList.contains('embed')) return;
  const r = e.figure.getBoundingClientRect();
  if (r.top < 0 || r.bottom > window.innerHeight) e.figure.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  e.figure.classList.add('revealed');
  setTimeout(() => e.figure.classList.remove('revealed'), 1600);
}

// Width over height a figure reads best at; an embed's grid gives each view the largest cell of
// that shape the frame allows.
const CELL_ASPECT = 1.4;

// In an embed the views share the frame in a grid: the column count whose cells, trimmed to
// CELL_ASPECT, are largest (one view fills the frame; two sit side by side in a wide frame and
// stacked in a tall one).
export function layoutEmbedGrid() {
  if (!document.body.classList.contains('embed') || !state.page) return;
  const n = Math.max(1, state.page.views().length);
  const box = $('plots').getBoundingClientRect();
  const w = box.width || window.innerWidth;
  const h = box.height || window.innerHeight;
  let cols = 1;
  let best = -1;
  for (let c = 1; c <= n; c++) {
    const side = Math.min(w / c / CELL_ASPECT, h / Math.ceil(n / c));
    if (side > best + 1e-9) { best = side; cols = c; }
  }
  $('plots').style.setProperty('--cols', String(cols));
  $('plots').style.setProperty('--rows', String(Math.ceil(n / cols)));
  // The page's own text follows big frames as the figures' does (src/plot: Look::fit), from a
  // 1280×720 frame on, at most 1.5 times.
  const zoom = Math.min(1.5, Math.max(1, Math.sqrt(Math.min(window.innerWidth / 1280, window.innerHeight / 720))));
  document.body.style.setProperty('--ui-zoom', zoom.toFixed(3));
}

// How much the frames around this page scale it on screen: a deck scales its slides with a CSS
// transform, which neither devicePixelRatio nor the canvas's own box shows. Readable only while
// every frame up the chain has this page's origin; 1 otherwise.
function frameScale() {
  let scale = 1;
  try {
    for (let w = window; w !== w.parent; w = w.parent) {
      const f = w.frameElement;
      if (!f || !f.offsetWidth) break;
      scale *= f.getBoundingClientRect().width / f.offsetWidth;
    }
  } catch (e) {
    return 1; // a frame of another origin: its transform is not ours to read
  }
  return Number.isFinite(scale) && scale > 0 ? scale : 1;
}

// Device pixels per CSS pixel of a figure's canvas, as last sized (hover and clicks map the
// cursor with it).
export function figureRatio(view) {
  const e = registry.get(view);
  return e && e.ratio ? e.ratio : dpr();
}

// The backing store follows the canvas's size on screen: its CSS box (getBoundingClientRect, not
// offsetWidth: transforms count) times the device pixel ratio times the scale of the frames
// around the page, never more than MAX_RATIO device pixels per CSS pixel; snapped to the exact
// device-pixel box (devicePixelContentBoxSize) where the browser reports one that agrees.
function sizeCanvas(c, box = null) {
  const entry = registry.get(c.closest('figure[data-view]').dataset.view);
  const r = c.getBoundingClientRect();
  // A canvas that is not laid out (hidden, or replaced by its print image) keeps its pixels.
  if (r.width === 0 || r.height === 0) return;
  const zoom = frameScale();
  let w;
  let h;
  const k = Math.min(MAX_RATIO, dpr() * zoom);
  w = Math.round(r.width * k);
  h = Math.round(r.height * k);
  // The device-pixel box is exact where the browser snaps the canvas to device pixels; it is
  // trusted only where it agrees with the estimate (an emulated device scale factor leaves it in
  // CSS pixels).
  if (box && Math.abs(box.inlineSize - w) <= 1.5 && Math.abs(box.blockSize - h) <= 1.5) {
    w = box.inlineSize;
    h = box.blockSize;
  }
  w = Math.max(1, w);
  h = Math.max(1, h);
  entry.ratio = r.width > 0 ? w / r.width : dpr();
  if (c.width !== w || c.height !== h) {
    c.width = w;
    c.height = h;
    markDirty(entry.view);
    emit('resized', entry.view);
    // The print layout may still be settling (a device-pixel snap after the swap): the image
    // follows the canvas it stands for.
    if (entry.figure.querySelector('img.print-image')) printImage(entry);
  }
}

// A view's canvas size in device pixels ([0, 0] before it is laid out).
export function canvasSize(view) {
  const entry = registry.get(view);
  return entry ? [entry.canvas.width, entry.canvas.height] : [0, 0];
}

const resizeAll = () => { for (const { canvas } of registry.values()) sizeCanvas(canvas); };

// ---------------------------------------------------------------- print

// Printing (the page, or a deck that frames it) shows a static image of each figure's current
// state in place of its canvas: some engines print canvases blank, and a figure that was off
// screen had not been drawn (the draw loop skips those), so every shown figure is brought up to
// date first. The images exist from beforeprint (or the print media query turning on) to
// afterprint; style.css shows them only in print.
export function swapInPrintImages() {
  if (!state.figures || !state.page) return;
  for (const view of state.page.views()) {
    const entry = registry.get(view);
    if (entry) printImage(entry);
  }
}

// The print image of one figure, made or remade from its canvas as drawn now.
function printImage(entry) {
  const { view, figure, canvas } = entry;
  if (dirty.has(view) || !lastDraw[view]) draw(view);
  if (canvas.width < 8 || canvas.height < 8) return;
  let img = figure.querySelector('img.print-image');
  if (!img) {
    img = document.createElement('img');
    img.className = 'print-image';
    img.alt = figure.querySelector('figcaption span')?.textContent || view;
    canvas.after(img);
  }
  const r = canvas.getBoundingClientRect();
  img.style.width = `${r.width}px`;
  img.style.aspectRatio = `${canvas.width} / ${canvas.height}`;
  // The image replaces the canvas once it has loaded (images load asynchronously, and a print
  // that starts at once, like a PDF made by the browser itself, would catch it empty); until
  // then the canvas, drawn just now, prints.
  img.onload = () => { if (img.isConnected) figure.classList.add('printed'); };
  img.src = canvas.toDataURL('image/png');
}

export function removePrintImages() {
  for (const { figure } of registry.values()) {
    figure.classList.remove('printed');
    const img = figure.querySelector('img.print-image');
    if (img) img.remove();
  }
}

function watchPrint() {
  window.addEventListener('beforeprint', swapInPrintImages);
  window.addEventListener('afterprint', removePrintImages);
  matchMedia('print').addEventListener('change', (e) => (e.matches ? swapInPrintImages() : removePrintImages()));
}

// Registers every figure of the page and watches its size, visibility, cursor and PNG button.
export function setupFigures() {
  for (const fig of document.querySelectorAll('figure[data-view]')) {
    if (!registry.has(fig.dataset.view)) registerFigure(fig.dataset.view);
  }
  const ro = new ResizeObserver((entries) => entries.forEach((e) => {
    const box = e.devicePixelContentBoxSize && e.devicePixelContentBoxSize[0];
    sizeCanvas(e.target, box || null);
  }));
  const io = new IntersectionObserver((entries) => entries.forEach((e) => {
    const v = e.target.dataset.view;
    if (e.isIntersecting) onScreen.add(v);
    else onScreen.delete(v);
  }));
  const tip = $('tooltip');
  for (const { view, figure, canvas: c, renderer } of registry.values()) {
    try {
      ro.observe(c, { box: 'device-pixel-content-box' });
    } catch (e) {
      ro.observe(c); // engines without device-pixel-content-box
    }
    io.observe(figure);
    c.addEventListener('mousemove', (e) => {
      const k = figureRatio(view);
      const text = renderer.hover(view, e.offsetX * k, e.offsetY * k);
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
  matchMedia(`(resolution: ${dpr()}dppx)`).addEventListener('change', resizeAll);
  window.addEventListener('resize', layoutEmbedGrid);
  // A deck rescales its slides when its window resizes; the frame's own size stays the same, so
  // nothing inside would notice. Same-origin frames can see it (frameScale); check now and then.
  if (window.parent !== window) setInterval(resizeAll, 1000);
  watchPrint();
}

export function draw(view) {
  const { canvas: c, renderer } = registry.get(view);
  if (c.width < 8 || c.height < 8) return;
  const t0 = performance.now();
  try {
    renderer.draw(view, c, figureRatio(view));
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
