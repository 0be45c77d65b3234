// Shared by the browser suites (supervisor.test.mjs, loop.test.mjs): a
// tiny test runner, headless Chromium, screenshots, signing in, and a real
// PNG photo to upload.
import assert from 'node:assert/strict';
import path from 'node:path';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

export const PASSWORD = 'gridsync-demo';

/** Named checks that go on after a failure; `report` prints the tally and exits 1 on any failure. */
export function runner() {
  let passed = 0;
  const failures = [];
  async function step(name, f) {
    try {
      await f();
      passed += 1;
      console.log(`ok   ${name}`);
    } catch (e) {
      failures.push(name);
      console.log(`FAIL ${name}\n     ${String(e?.stack ?? e).split('\n').slice(0, 6).join('\n     ')}`);
    }
  }
  function report(artifacts, shotWarnings) {
    console.log(`\n${passed} passed, ${failures.length} failed; screenshots in ${artifacts}`);
    if (shotWarnings.length) console.log(`screenshots not taken (${shotWarnings.length}):\n  ${shotWarnings.join('\n  ')}`);
    if (failures.length) process.exit(1);
  }
  return { step, report, failed: () => failures.length };
}

/** Debian's headless Chromium. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Screenshots into `artifacts` and signing in to the server at `base`. */
export function pages(browser, base, artifacts) {
  // Screenshots are evidence for people, not assertions: headless Chromium on a
  // busy CI machine sometimes answers "Unable to capture screenshot" when no
  // frame is ready yet. Wait for a frame and try again; if it still fails, say
  // so loudly but let the check's own assertions decide whether it passed.
  const shotWarnings = [];
  // `fullPage: true` takes the whole page, not only the window (the
  // phone-width shots, where the page is long).
  async function shot(page, name, { fullPage = false } = {}) {
    const file = path.join(artifacts, `${name}.png`);
    for (let attempt = 1; ; attempt++) {
      try {
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
        await page.screenshot({ path: file, fullPage, timeout: 15000 });
        return;
      } catch (e) {
        if (attempt >= 4) {
          shotWarnings.push(`${name}: ${e.message.split('\n')[0]}`);
          console.warn(`WARN screenshot ${name} not taken: ${e.message.split('\n')[0]}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  async function signIn(username, viewport = { width: 1366, height: 768 }) {
    const context = await browser.newContext({ viewport, acceptDownloads: true, locale: 'zh-CN' });
    const page = await context.newPage();
    await page.goto(`${base}/web`);
    assert.match(page.url(), /\/web\/login$/, 'not signed in: the login form');
    await page.fill('#username', username);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
    return { context, page };
  }
  return { shot, signIn, shotWarnings };
}

// A real photo for the department's 处置: a 160×120 PNG with a gradient,
// written with node's zlib (no image library needed).
export function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = (x * 255) / w;
      raw[o + 1] = (y * 255) / h;
      raw[o + 2] = 120;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

