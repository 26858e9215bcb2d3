// The network diagram's buttons: over each hidden layer's column a − and a + (one unit fewer or
// more) and a × (remove the layer); "+ layer" in the caption adds one. The diagram itself is drawn
// by the wasm `Figures` (plot/network.rs); after each draw the buttons move to where its columns
// went. Every button edits `net` through the editor's path (bindNetwork gets `edit`), exactly as
// the width fields do: the hash, K/QN and the reload follow the same way.
import { state } from './state.js';
import { $ } from './ui.js';
import { registerFigure, figureRatio } from './figures.js';

// Width of a hidden layer added by "+ layer" (the editor's "+ hidden layer" uses the same).
const NEW_LAYER_WIDTH = 8;
// Largest width the buttons go to (the width fields accept up to 4096).
const MAX_WIDTH = 4096;

const local = { edit: null, key: '' };

function widths() {
  const net = state.page.get('net');
  return net === 'none' ? [] : net.split(',').map(Number);
}

function setWidths(w) {
  local.edit('net', w.length ? w.join(',') : 'none');
}

function button(text, title, testid, onclick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.title = title;
  b.dataset.testid = testid;
  b.onclick = onclick;
  return b;
}

// Puts one group of buttons over each hidden column of the diagram as last drawn.
function placeControls() {
  const box = $('net-controls');
  const summary = state.figures.network_summary();
  const figure = box.closest('figure');
  if (!summary) {
    box.textContent = '';
    return;
  }
  figure.dataset.widths = summary.widths.join(',');
  figure.dataset.hiddenUnits = String(summary.hidden_units);
  figure.dataset.drawn = String(summary.drawn);
  figure.dataset.marked = String(summary.marked);
  const key = JSON.stringify(summary.columns) + summary.widths.join(',') + figureRatio('network');
  if (key === local.key) return;
  local.key = key;
  box.textContent = '';
  const last = summary.columns.length - 1;
  const ratio = figureRatio('network');
  summary.columns.forEach((c) => {
    if (c.layer === 0 || c.layer === last) return;
    const i = c.layer - 1;
    const group = document.createElement('div');
    group.className = 'col';
    group.style.left = `${c.x / ratio}px`;
    group.style.top = `${c.top / ratio - 4}px`;
    group.append(
      button('−', `one unit fewer in hidden layer ${c.layer}`, `net-minus-${c.layer}`, () => {
        const w = widths();
        if (w[i] > 1) { w[i] -= 1; setWidths(w); }
      }),
      button('+', `one unit more in hidden layer ${c.layer}`, `net-plus-${c.layer}`, () => {
        const w = widths();
        if (w[i] < MAX_WIDTH) { w[i] += 1; setWidths(w); }
      }),
      button('×', `remove hidden layer ${c.layer}`, `net-remove-${c.layer}`, () => {
        const w = widths();
        w.splice(i, 1);
        setWidths(w);
      }),
    );
    box.append(group);
  });
}

registerFigure('network', {
  draw: (view, canvas, ratio) => {
    state.figures.draw(view, canvas, ratio);
    placeControls();
  },
  hover: (view, x, y) => state.figures.hover(view, x, y),
});

export function bindNetwork({ edit }) {
  local.edit = edit;
  $('net-add-layer').onclick = () => setWidths([...widths(), NEW_LAYER_WIDTH]);
}
