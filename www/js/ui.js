// Small DOM helpers every module uses: the banner, the status line, the page state the tests and
// the stylesheet read (`body[data-state]`: loading, ready, running, paused, error), number formats,
// readout lists and downloads.

export const $ = (id) => document.getElementById(id);
export const dpr = () => window.devicePixelRatio || 1;

export const setState = (s) => { document.body.dataset.state = s; };
export const pageState = () => document.body.dataset.state;

export const fmt = (x) => (Number.isFinite(x) ? x.toExponential(4) : String(x));
export const fmtS = (x) => (Number.isFinite(x) ? (x < 1000 ? x.toFixed(3) : x.toExponential(3)) : String(x));

export function showBanner(text) {
  $('banner-text').textContent = text;
  $('banner').hidden = false;
}

// The toolbar's status line (one line on a wide screen: the whole text on hover).
export function status(text) {
  $('status').textContent = text;
  $('status').title = text;
}

// Writes only a changed text, so that a selection in it survives a refresh.
export function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

// A <dl> of the wasm module's readouts ({ key, label, text, value }): the tests read
// data-testid=readout-<key> and its data-value.
export function fillReadouts(dl, readouts) {
  dl.textContent = '';
  for (const r of readouts) {
    const dt = document.createElement('dt');
    dt.textContent = r.label;
    const dd = document.createElement('dd');
    dd.textContent = r.text;
    dd.dataset.testid = `readout-${r.key}`;
    dd.dataset.value = String(r.value);
    dl.append(dt, dd);
  }
}

export function download(name, data, type) {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// Fills a table whose rows start with a colour swatch and a name (`row.color`, `row.label`): one
// more cell per entry of `cells` ({ className: (row) => text }), with a data-value where `values`
// has the class name ({ className: (row) => number }).
export function fillSwatchTable(table, rows, cells, values = {}) {
  const body = table.tBodies[0];
  body.textContent = '';
  for (const row of rows) {
    const tr = body.insertRow();
    const first = tr.insertCell();
    first.innerHTML = '<span class="swatch"></span> <span class="name"></span>';
    first.querySelector('.swatch').style.background = row.color;
    first.querySelector('.name').textContent = row.label;
    for (const [name, text] of Object.entries(cells)) {
      const td = tr.insertCell();
      td.className = name;
      td.textContent = text(row);
      if (values[name]) td.dataset.value = String(values[name](row));
    }
  }
}
