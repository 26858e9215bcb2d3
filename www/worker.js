// The module worker: owns every session through the wasm WorkerHost. It answers the page's
// messages and, while a run is under way, integrates in budgeted ticks (about 30 ms each), posting
// one frame per tick so that messages from the page are handled between ticks.
import init, { WorkerHost, install_panic_hook } from './pkg/pullback.js';
import { TEST } from './js/testing.js';

let host = null;
let scheduled = false;

// A panic inside the module leaves it unusable: tell the page, which restarts the worker.
self.__pullback_panic = (message) => {
  self.postMessage({ type: 'error', id: null, field: null, fatal: true, message: `worker panicked: ${message}` });
};

function post(messages) {
  for (const m of messages) {
    // Bulk numbers move, not copy.
    if (m.bulk) self.postMessage(m, [m.bulk.buffer]);
    else self.postMessage(m);
  }
}

// A message to ourselves yields to the event loop without setTimeout's 4 ms clamp.
const channel = new MessageChannel();
channel.port1.onmessage = pump;

function schedule(delay = 0) {
  if (scheduled || !host || !host.wants_tick()) return;
  scheduled = true;
  if (delay > 0) setTimeout(pump, delay);
  else channel.port2.postMessage(0);
}

function pump() {
  scheduled = false;
  if (!host || !host.wants_tick()) return;
  guarded(() => post(host.tick()));
  if (host) schedule(host.idle_ms());
}

// Anything thrown by the module (a trap after a panic) leaves it unusable: report it as fatal so
// that the page restarts the worker, even where the throw would only reject a promise.
function guarded(f) {
  try {
    f();
  } catch (e) {
    self.postMessage({ type: 'error', id: null, field: null, fatal: true, message: `the worker failed: ${e}` });
    host = null;
    self.close();
  }
}

// Listen before the module is initialised, or the first message could be lost; every handler
// waits for the initialisation.
const ready = init()
  .then(() => {
    install_panic_hook();
    host = new WorkerHost();
    self.postMessage(host.ready());
  })
  .catch((e) => {
    self.postMessage({ type: 'error', id: null, field: null, fatal: true, message: `the worker could not load the WebAssembly module: ${e}` });
    throw e;
  });

self.onmessage = (event) => {
  const type = event.data && event.data.type;
  // The page's watchdog: any message proves the worker is alive. Answered at once, outside the
  // queue of module calls, so that only a worker stuck in one computation stays silent.
  if (type === '__ping') { self.postMessage({ type: '__pong' }); return; }
  // Test hooks, only with the test flag (js/testing.js); otherwise the host refuses them as
  // unknown messages. `__crash` throws synchronously so that it surfaces as the worker's error
  // event on the page (the restart test); `__hang` is a computation that does not end for `ms`
  // (the watchdog's test).
  if (TEST && type === '__crash') throw new Error('worker crash requested by a test');
  if (TEST && type === '__hang') { const end = Date.now() + event.data.ms; while (Date.now() < end) { /* busy */ } return; }
  // Callbacks on one resolved promise run in the order they were added: messages keep their order.
  ready.then(() => {
    if (!host) return;
    guarded(() => post(host.handle(event.data)));
    schedule();
  });
};
