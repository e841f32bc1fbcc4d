import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from './support/binaries.js';
import { openBrowserPage } from './support/browser.js';
import { DEMO_KEY, freePort, freshDataDir, run, waitReady, type Running } from './support/processes.js';
import { ensureTemplate } from './support/template.js';

const CHROMIUM = requireBinary('chromium', 'the console browser tests');
const SHOTS = path.resolve('test-results');

/**
 * A platform that still serves but with less: its event log finds a damaged segment at start (a real fault, made by
 * writing bytes that are no records before the start; the log keeps a copy and steps over them). /readyz answers
 * 200 "degraded" with the reason, and every console page says so.
 */
describe.skipIf(!CHROMIUM)('the console shows a degraded platform', () => {
  let running: Running;
  let cleanup: () => void;
  let url: string;
  let browser: { close: () => Promise<void> } | undefined;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureTemplate();
    const data = freshDataDir();
    cleanup = data.cleanup;
    mkdirSync(path.join(data.dir, 'events'), { recursive: true });
    writeFileSync(
      path.join(data.dir, 'events', '00000000000000000000.seg'),
      'not an event record: a damaged segment\n'.repeat(3),
    );
    const port = await freePort();
    running = run(['start'], {
      ETASERVE_DATA_DIR: data.dir,
      ETASERVE_GATEWAY_PORT: String(port),
      ETASERVE_DEMO_API_KEY: DEMO_KEY,
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
      ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
    });
    url = `http://127.0.0.1:${port}`;
    await waitReady(url, running);
    const opened = await openBrowserPage(CHROMIUM!, 'Europe/Paris');
    browser = opened;
    page = opened.page;
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await running?.stop();
    cleanup?.();
  });

  it('says degraded, with the gateway’s reasons, on every page', async () => {
    // The condition is real: /readyz itself says degraded, with 200 (the platform still serves).
    const res = await fetch(`${url}/readyz`);
    const body = (await res.json()) as { status: string; ready: boolean; reasons: string[] };
    expect(res.status).toBe(200);
    expect(body.status).toBe('degraded');
    const reason = body.reasons.find((r) => r.includes('event log damage'));
    expect(reason).toBeDefined();

    await page.goto(`${url}/`);
    await page.getByLabel('API key').fill(DEMO_KEY);
    await page.getByRole('button', { name: 'Open the console' }).click();
    const banner = page.getByTestId('readiness-banner');
    for (const route of ['/live', '/models', '/try']) {
      await page.goto(`${url}${route}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await banner.waitFor();
      expect(await banner.getAttribute('role')).toBe('alert');
      expect(await banner.getAttribute('data-status')).toBe('degraded');
      expect(await banner.textContent()).toContain('Degraded');
      expect(await banner.textContent()).toContain(reason!);
    }
    expect(await page.locator('.ready').textContent()).toContain('degraded');
    await page.screenshot({ path: path.join(SHOTS, 'console-degraded.png'), fullPage: true });
  });
});
