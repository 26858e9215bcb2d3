// The benchmark's worker: runs one `bench_run` per request so the page can show progress between
// scenarios; a scenario's timing blocks this worker only, never the page.
import init, { bench_run, install_panic_hook } from './pkg/pullback.js';
import { TEST } from './js/testing.js';

const ready = init().then(() => { install_panic_hook(); });
// Browsers start wasm on a baseline compiler and tier hot functions up while they run: a short
// untimed pass over S and U first, so that the first timed scenario is not measured half-compiled
// (the 512³ product ran at 1.1 GFLOP/s before it and 22 after, in headless chromium).
const warm = ready.then(() => {
  self.postMessage({ type: 'warming' });
  bench_run(JSON.stringify({ only: ['S', 'U'], quick: true }));
});
warm.then(
  () => self.postMessage({ type: 'ready' }),
  (e) => self.postMessage({ type: 'error', fatal: true, message: `the module did not load: ${e}` }),
);
self.__pullback_panic = (message) => {
  self.postMessage({ type: 'error', fatal: true, message: `worker panicked: ${message}` });
};

// Synchronous on purpose: a throw here reaches the page as the worker's `error` event. The test
// hook exists with the test flag only (js/testing.js).
self.onmessage = (event) => {
  if (TEST && event.data.__crash) throw new Error('crash requested by the test');
  handle(event.data);
};

async function handle({ id, config }) {
  try {
    await warm;
    const out = JSON.parse(bench_run(JSON.stringify(config)));
    if (out.error) self.postMessage({ type: 'error', id, fatal: false, message: out.error });
    else self.postMessage({ type: 'result', id, report: out.report, table: out.table });
  } catch (e) {
    self.postMessage({ type: 'error', id, fatal: true, message: String(e && e.message ? e.message : e) });
  }
}
