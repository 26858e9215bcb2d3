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
