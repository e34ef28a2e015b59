/**
 * The browser test kit itself (test/helpers/chromium.ts): the server's COOP/COEP headers make a page
 * cross-origin isolated (SharedArrayBuffer present), without them it is not; paths cannot escape the root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumMissing, launchChromium, startStaticServer } from '../helpers/chromium.js';

test('isolated server → crossOriginIsolated page with SharedArrayBuffer; plain server → not', { skip: chromiumMissing() ?? false, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ast-static-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title><p>hello</p>');
  const isolated = await startStaticServer({ root: dir, isolated: true });
  const plain = await startStaticServer({ routes: { '/inline.html': { body: '<!doctype html><p>inline</p>' } } });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${isolated.url}/`);
    assert.deepEqual(await page.evaluate(() => [crossOriginIsolated, typeof SharedArrayBuffer, document.querySelector('p')?.textContent]), [true, 'function', 'hello']);
    const escape = await fetch(`${isolated.url}/..%2f..%2fetc/passwd`);
    assert.ok(escape.status === 403 || escape.status === 404, `escape got ${escape.status}`);
    assert.equal((await fetch(`${isolated.url}/missing.js`)).status, 404);
    await page.goto(`${plain.url}/inline.html`);
    assert.deepEqual(await page.evaluate(() => [crossOriginIsolated, typeof SharedArrayBuffer, document.querySelector('p')?.textContent]), [false, 'undefined', 'inline']);
  } finally {
    await browser.close();
    await isolated.close();
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
