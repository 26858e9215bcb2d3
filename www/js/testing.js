// The test flag: hooks for the end-to-end tests exist only when the address carries the query
// parameter `test` (`index.html?test#…`, `bench.html?test#…`). Share links never carry it (see
// embed.js). The workers read the same flag from their own URL, to which the page copies it.
// Without the flag the page has no `window.pullback` and the workers treat `__crash` and
// `__hang` as unknown messages.

export const TEST = new URLSearchParams(self.location.search).has('test');

// A worker's URL, carrying the test flag when the page has it.
export function workerUrl(relative, base) {
  const url = new URL(relative, base);
  if (TEST) url.searchParams.set('test', '1');
  return url;
}

// `window.pullback`: readouts the tests compare (scenario, lanes, info, figures) and the hooks that
// break the worker on purpose (crash, hang, a shorter watchdog). `source` gives live values.
export function installTestHooks(source) {
  if (!TEST) return;
  window.pullback = {
    get readyAt() { return source.metrics.readyAt; },
    hash: () => source.state.page && source.state.page.hash(),
    scenario: () => source.state.page && source.state.page.scenario_json(),
    lanes: () => source.state.lanes,
    info: () => source.state.info,
    drawCost: () => ({ ...source.metrics.drawCost }),
    // The device pixel where data point (x, y) of a view was last drawn (to click on it).
    pixelOf: (view, x, y) => source.state.figures && source.state.figures.pixel_of(view, x, y),
    // Side of the decision-boundary grid last received (0 before one).
    heatSize: () => (source.state.figures ? source.state.figures.heat_size() : 0),
    slowest: () => ({ ...source.metrics.slowest }),
    // Makes the worker throw outside its guard: the page must restart it.
    crashWorker: () => source.client.send({ type: '__crash' }),
    // Keeps the worker busy for `ms`: the watchdog must replace it.
    hangWorker: (ms) => source.client.send({ type: '__hang', ms }),
    // The watchdog's silence limit (30 s otherwise), so that its test need not wait that long.
    setWatchdogMs: (ms) => source.client.setHangMs(ms),
  };
}
