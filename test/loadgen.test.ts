/**
 * The open-loop load generator (bench/loadgen) against tiny local servers: counts are exact, non-2xx and timeouts
 * are counted apart, and a server stall shows in the corrected latency of the requests scheduled during it (where a
 * closed-loop tool, measuring from the actual send, would hide it). Structural facts only, no timing thresholds
 * beyond the stall itself.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../bench/loadgen/index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function listen(handler: (n: number, res: http.ServerResponse) => void): Promise<string> {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(++n, res));
  });
  server.keepAliveTimeout = 30_000;
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const ok = (res: http.ServerResponse, status = 200): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end('{"ok":true}');
};

describe('open-loop load generator', () => {
  it('sends rate x duration, counts 2xx, non-2xx and timeouts apart', async () => {
    let served500 = 0;
    let hung = 0;
    const url = await listen((n, res) => {
      if (n % 100 === 0) {
        setTimeout(() => ok(res), 50); // a slow answer, still 2xx
      } else if (n % 40 === 7) {
        served500++;
        ok(res, 500);
      } else if (n % 97 === 13) {
        hung++; // never answered: a timeout
      } else {
        ok(res);
      }
    });
    const rate = 200;
    const durationSec = 2;
    const r = await runLoad({
      url,
      path: '/x',
      method: 'GET',
      rate,
      durationSec,
      warmupSec: 0,
      connections: 16,
      timeoutMs: 1000,
    });

    expect(r.scheduled).toBe(rate * durationSec);
    expect(r.sent).toBe(rate * durationSec);
    expect(r.non2xx).toBe(served500);
    expect(r.statusCounts['500']).toBe(served500);
    expect(r.timeouts).toBe(hung);
    expect(r.errors).toBe(0);
    expect(r.ok + r.non2xx + r.timeouts + r.errors).toBe(r.sent);
    expect(r.latency.count).toBe(r.ok);
    // The 50 ms answers are among the 2xx.
    expect(r.latency.max).toBeGreaterThanOrEqual(50);
    // Per-second timeline adds up.
    expect(r.timeline).toHaveLength(durationSec);
    expect(r.timeline.reduce((a, t) => a + t.sent, 0)).toBe(r.sent);
    expect(r.timeline.reduce((a, t) => a + t.timeouts, 0)).toBe(r.timeouts);
    // The generator ran in its own process.
    expect(r.generator.pid).not.toBe(process.pid);
  });

  it('spreads requests over several origins round-robin and counts each apart', async () => {
    let a = 0;
    let b = 0;
    const first = await listen((_n, res) => {
      a++;
      ok(res);
    });
    const second = await listen((_n, res) => {
      b++;
      ok(res, 503);
    });
    const r = await runLoad({
      url: first,
      urls: [first, second],
      path: '/',
      method: 'GET',
      rate: 100,
      durationSec: 1,
      connections: 4,
      timeoutMs: 1000,
    });

    expect(r.sent).toBe(100);
    expect([a, b]).toEqual([50, 50]);
    expect(r.ok).toBe(50);
    expect(r.non2xx).toBe(50);
    expect(r.targets?.map((t) => [t.url, t.sent, t.ok, t.non2xx])).toEqual([
      [first, 50, 50, 0],
      [second, 50, 0, 50],
    ]);
    expect(r.targets?.[0]?.latency.count).toBe(50);
  });

  it('charges a server stall to every request scheduled during it (coordinated omission corrected)', async () => {
    const url = await listen((n, res) => {
      if (n === 150) {
        const until = Date.now() + 300;
        while (Date.now() < until) {
          // block the event loop: the whole server stalls for 300 ms
        }
      }
      ok(res);
    });
    const r = await runLoad({
      url,
      path: '/',
      method: 'GET',
      rate: 200,
      durationSec: 2,
      connections: 2,
      timeoutMs: 2000,
    });

    expect(r.ok).toBe(400);
    expect(r.timeouts + r.errors + r.non2xx).toBe(0);
    // ~60 requests were due during the 300 ms stall; the first waited it all, the later ones less.
    expect(r.latency.max).toBeGreaterThanOrEqual(280);
    expect(r.latency.p99).toBeGreaterThanOrEqual(200);
    // Measured from the actual send, only the requests already on the 2 busy connections see the stall: the
    // rest queue in the client and look fast, as a closed-loop tool would report.
    expect(r.uncorrected.p99).toBeLessThan(r.latency.p99);
    // The stall shows in the second it happened in.
    const worst = r.timeline.reduce((a, t) => (t.max > a.max ? t : a));
    expect(worst.max).toBeGreaterThanOrEqual(280);
  });
});
