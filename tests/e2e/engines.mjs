// One small driver interface over the three browser engines the smoke test runs in, each driven by
// the client that can drive the browser Debian ships (never a downloaded browser or driver):
//   chromium  playwright-core → /usr/bin/chromium (the launcher shared with run.mjs)
//   firefox   puppeteer-core over WebDriver BiDi → /usr/bin/firefox-esr (Playwright cannot drive
//             a stock Firefox)
//   webkit    selenium-webdriver → WebKitWebDriver → WebKitGTK's MiniBrowser, under xvfb-run when
//             there is no X display (MiniBrowser needs one, even to run "headless")
//
// launchEngine(name) resolves to { name, version, open(url), close() } (WebKit's version is known
// after the first open); open(url) to a page with
//   evaluate(fn, arg)              fn runs in the page with one JSON argument; its (awaited) result
//   click(selector)                a real click through the driver
//   waitFor(fn, arg, what, ms)     polls evaluate(fn, arg) until truthy; throws naming `what`
//   waitForSelector(sel, ms)       an element matching sel exists and is rendered
//   consoleErrors()                console errors and uncaught errors seen so far (see below); read
//                                  them before close(), which ends the document
//   close()
// One page at a time: WebKitWebDriver holds a single session, so close a page before the next.
//
// Console errors: Chromium and Firefox report them through their protocols; WebKitWebDriver speaks
// classic WebDriver only (it refuses `webSocketUrl`, so no BiDi log events) and has no log
// endpoint. So every engine also gets the same collector, which the test server puts at the top of
// the page's <head> (collectorScript below): console.error calls, uncaught errors (resource load
// failures included) and unhandled rejections of the page, stored in window.__smokeErrors.
import { spawn } from 'node:child_process';
import net from 'node:net';
import puppeteer from 'puppeteer-core';
import { Builder, By } from 'selenium-webdriver';
import { launch as launchChromium } from './browser.mjs';

export const ENGINES = ['chromium', 'firefox', 'webkit'];

const VIEWPORT = { width: 1400, height: 1000 };
const FIREFOX = '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = '/usr/bin/WebKitWebDriver';
const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

// Selenium Manager (a binary inside selenium-webdriver that downloads browsers and drivers) must
// never run: the WebKit session goes to a driver we started (usingServer), which never needs it, and
// pointing it at a missing file turns any accidental use into an error instead of a download.
process.env.SE_MANAGER_PATH = '/nonexistent/selenium-manager-is-not-used';
delete process.env.SELENIUM_REMOTE_URL;
delete process.env.SELENIUM_SERVER_JAR;

export const collectorScript = `<script>(() => {
  const errs = window.__smokeErrors = [];
  const err = console.error.bind(console);
  console.error = (...a) => { errs.push('console.error: ' + a.map(String).join(' ')); err(...a); };
  addEventListener('error', (e) => errs.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || e.type)), true);
  addEventListener('unhandledrejection', (e) => errs.push('unhandledrejection: ' + e.reason));
})();</script>`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A page over one engine-specific `evaluate`; everything else is built on it, the same way for all.
function page({ evaluate, click, native, close }) {
  const p = {
    evaluate,
    click,
    async waitFor(fn, arg, what, ms = 30000) {
      const end = Date.now() + ms;
      for (;;) {
        const v = await evaluate(fn, arg);
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await sleep(50);
      }
    },
    waitForSelector(sel, ms) {
      return p.waitFor((s) => {
        const el = document.querySelector(s);
        return !!el && el.getClientRects().length > 0;
      }, sel, sel, ms);
    },
    async consoleErrors() {
      const injected = await evaluate(() => window.__smokeErrors || ['the error collector is missing']);
      return [...native, ...injected];
    },
    close,
  };
  return p;
}

async function chromium() {
  const browser = await launchChromium();
  return {
    name: 'chromium',
    version: `Chromium ${browser.version()}`,
    async open(url) {
      const context = await browser.newContext({ viewport: VIEWPORT });
      const pg = await context.newPage();
      const native = [];
      pg.on('console', (m) => { if (m.type() === 'error') native.push(`console: ${m.text()}`); });
      pg.on('pageerror', (e) => native.push(`pageerror: ${e.message}`));
      await pg.goto(url);
      return page({
        evaluate: (fn, arg) => pg.evaluate(fn, arg),
        click: (sel) => pg.click(sel),
        native,
        close: () => context.close(),
      });
    },
    close: () => browser.close(),
  };
}

async function firefox() {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    defaultViewport: VIEWPORT,
  });
  return {
    name: 'firefox',
    version: (await browser.version()).replace('firefox/', 'Firefox ESR '),
    async open(url) {
      const context = await browser.createBrowserContext();
      const pg = await context.newPage();
      const native = [];
      pg.on('console', (m) => { if (m.type() === 'error') native.push(`console: ${m.text()}`); });
      pg.on('pageerror', (e) => native.push(`pageerror: ${e.message}`));
      await pg.goto(url);
      return page({
        evaluate: (fn, arg) => pg.evaluate(fn, arg),
        click: (sel) => pg.click(sel),
        native,
        close: () => context.close(),
      });
    },
    close: () => browser.close(),
  };
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// WebKitWebDriver in its own process group (with xvfb-run and Xvfb when we start the display), so
// that close() ends exactly what was started here: the driver, its MiniBrowsers, the X server.
async function webkit({ driverPort } = {}) {
  const port = driverPort || await freePort();
  const driverArgs = [`--port=${port}`, '--host=127.0.0.1'];
  const [cmd, args] = process.env.DISPLAY
    ? [WEBKIT_DRIVER, driverArgs]
    : ['xvfb-run', ['-a', '-s', '-screen 0 1600x1200x24', WEBKIT_DRIVER, ...driverArgs]];
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => child.on('exit', r));
  const stop = () => { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ } };
  process.on('exit', stop);
  const server = `http://127.0.0.1:${port}`;
  const end = Date.now() + 15000;
  for (;;) {
    const ok = await fetch(`${server}/status`).then((r) => r.ok, () => false);
    if (ok) break;
    if (child.exitCode !== null || Date.now() > end) {
      stop();
      throw new Error(`WebKitWebDriver did not start on ${server}: ${stderr.trim() || `exit ${child.exitCode}`}`);
    }
    await sleep(100);
  }
  const capabilities = {
    browserName: 'MiniBrowser',
    'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
  };
  let version = null;
  let live = null;
  return {
    name: 'webkit',
    get version() { return version; },
    async open(url) {
      // A session per page, a fresh MiniBrowser with its own storage (about 1.5 s); the driver
      // holds one session at a time.
      if (live) throw new Error('WebKitWebDriver holds one session at a time: close the previous page first');
      const driver = await new Builder().usingServer(server).withCapabilities(capabilities).build();
      live = driver;
      version ??= `WebKitGTK ${(await driver.getCapabilities()).get('browserVersion')} (MiniBrowser)`;
      await driver.manage().window().setRect({ ...VIEWPORT, x: 0, y: 0 });
      await driver.get(url);
      return page({
        evaluate: (fn, arg) => driver.executeScript(`return (${fn})(arguments[0]);`, arg),
        click: async (sel) => driver.findElement(By.css(sel)).click(),
        native: [],
        close: async () => {
          if (live !== driver) return;
          live = null;
          await driver.quit();
        },
      });
    },
    async close() {
      if (live) await live.quit().catch(() => {});
      live = null;
      stop();
      await Promise.race([exited, sleep(5000)]);
      process.off('exit', stop);
    },
  };
}

export async function launchEngine(name, options = {}) {
  switch (name) {
    case 'chromium': return chromium(options);
    case 'firefox': return firefox(options);
    case 'webkit': return webkit(options);
    default: throw new Error(`unknown engine ${name} (known: ${ENGINES.join(', ')})`);
  }
}
