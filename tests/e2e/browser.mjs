// What the end-to-end scripts share: Debian's chromium through playwright-core (never a
// downloaded browser), and the long-task recorder installed before any page script runs.
import { chromium } from 'playwright-core';

export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

// window.__longtasks collects { start, duration } (ms) of every main-thread task over 50 ms.
export function recordLongtasks(page) {
  return page.addInitScript(() => {
    window.__longtasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
}

// Console errors and uncaught exceptions of a page, its frames and its workers: a test fails on
// any of them. (No test provokes one on purpose: the page handles a crashed worker's error event
// and says so in its banner. A test that did would name the errors it expects here.)
export class ErrorWatch {
  constructor(page) {
    this.seen = [];
    page.on('console', (m) => { if (m.type() === 'error') this.seen.push(m.text()); });
    page.on('pageerror', (e) => this.seen.push(`pageerror: ${e.message}`));
  }

  // What is wrong, as sentences; empty when the page logged no error.
  problems() {
    return this.seen.length ? [`console errors: ${this.seen.join(' | ')}`] : [];
  }

  check() {
    const p = this.problems();
    if (p.length) throw new Error(p.join('; '));
  }
}
