// The page's side of the module worker (www/worker.js): starting it, numbering requests, the
// watchdog, and replacing a worker that crashed or stopped answering. What the messages mean is
// the session's business (session.js); this module only keeps a live worker on the line.
import { note } from './state.js';
import { workerUrl } from './testing.js';

// A worker that stops answering (one computation far too large for this browser) cannot be
// interrupted, only replaced: the page pings it and, after this long without any message,
// restarts it.
const HANG_MS = 30000;
// More than this many restarts within RESTART_WINDOW_MS: the worker keeps failing, give up.
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 20000;

export class WorkerClient {
  // handlers.message(m): every message but the watchdog's; handlers.restarted(reason, { hung }):
  // a new worker is starting; handlers.gaveUp(reason): no new worker will be started.
  constructor(handlers) {
    this.handlers = handlers;
    this.worker = null;
    // Messages of a replaced worker still in the queue are dropped by their generation.
    this.generation = 0;
    this.nextId = 1;
    this.lastHeard = null;
    this.pingTimer = null;
    this.restarts = [];
    this.hangMs = HANG_MS;
    this.stopped = false;
  }

  start() {
    const gen = ++this.generation;
    const worker = new Worker(workerUrl('../worker.js', import.meta.url), { type: 'module' });
    this.worker = worker;
    this.lastHeard = null;
    this.watch();
    worker.onmessage = (e) => {
      if (gen !== this.generation) return;
      this.lastHeard = performance.now();
      if (e.data.type === '__pong') return;
      const t0 = performance.now();
      this.handlers.message(e.data);
      note(`message ${e.data.type}`, performance.now() - t0);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      if (gen === this.generation) this.restart(`The worker stopped with an error (${e.message || 'no message'})`);
    };
    worker.onmessageerror = () => {
      if (gen === this.generation) this.restart('A message from the worker could not be read');
    };
  }

  // Sends a request with the next id; returns the id.
  post(msg) {
    msg.id = this.nextId++;
    this.worker.postMessage(msg);
    return msg.id;
  }

  // Sends a message as it is (the watchdog's ping, the test hooks).
  send(msg) {
    this.worker.postMessage(msg);
  }

  setHangMs(ms) {
    this.hangMs = ms;
    this.watch();
  }

  watch() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      // Loading the module is not a hang (slow machines take seconds); the clock starts at its
      // first message.
      if (this.stopped || this.lastHeard === null) return;
      const silent = performance.now() - this.lastHeard;
      if (silent > this.hangMs) {
        this.restart(`The worker has not answered for ${Math.round(silent / 1000)} s (one computation is too large for this browser; try fewer points or a smaller network)`, { hung: true });
      } else {
        this.send({ type: '__ping' });
      }
    }, Math.min(5000, this.hangMs / 3));
  }

  restart(reason, { hung = false } = {}) {
    const now = performance.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    this.restarts.push(now);
    this.worker.terminate();
    if (this.restarts.length > MAX_RESTARTS) {
      this.stopped = true;
      clearInterval(this.pingTimer);
      this.handlers.gaveUp(reason);
      return;
    }
    this.handlers.restarted(reason, { hung });
    this.start();
  }
}
