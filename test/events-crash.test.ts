import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileEventLog } from '../src/events/index.js';
import { DEMO_KEY, freePort, freshDataDir, run, waitReady, type Running } from './support/processes.js';
import { ensureTemplate } from './support/template.js';

/**
 * A real `etaserve start` killed with SIGKILL while batches are being posted: after a restart, every event it
 * acknowledged is in the log, and sending those batches again changes nothing.
 */
describe('events survive kill -9 during ingest', () => {
  let data: { dir: string; cleanup: () => void };
  let running: Running | undefined;
  let url = '';

  const start = async (): Promise<void> => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    running = run(['start'], {
      ETASERVE_DATA_DIR: data.dir,
      ETASERVE_GATEWAY_PORT: String(port),
      ETASERVE_DEMO_API_KEY: DEMO_KEY,
      ETASERVE_SIMULATOR_LIVE_REQUESTS_PER_SECOND: '0',
      ETASERVE_GATEWAY_WARM_UP_REQUESTS: '0',
    });
    await waitReady(url, running);
  };

  beforeAll(async () => {
    await ensureTemplate();
    data = freshDataDir();
    await start();
  }, 180_000);

  afterAll(async () => {
    await running?.stop('SIGKILL');
    data.cleanup();
  });

  const batchOf = (sender: number, n: number): Array<Record<string, unknown>> =>
    Array.from({ length: 100 }, (_, i) => ({
      event_id: `k-${sender}-${n}-${i}`,
      type: 'rider.location',
      occurred_at: new Date().toISOString(),
      rider_id: `r-${sender}-${i}`,
      lat: 48.85 + i / 1e4,
      lng: 2.35,
    }));

  const post = async (batch: unknown[]): Promise<{ accepted: number; duplicates: number } | undefined> => {
    try {
      const res = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_KEY}` },
        body: JSON.stringify(batch),
      });
      return res.status === 200
        ? ((await res.json()) as { accepted: number; duplicates: number })
        : undefined;
    } catch {
      return undefined; // the connection died with the process: not acknowledged
    }
  };

  it('keeps every acknowledged event and deduplicates replays after the restart', async () => {
    const acknowledged: Array<Array<Record<string, unknown>>> = [];
    let stop = false;
    const sender = async (s: number): Promise<void> => {
      for (let n = 0; !stop; n++) {
        const batch = batchOf(s, n);
        const answer = await post(batch);
        if (answer && answer.accepted + answer.duplicates === batch.length) acknowledged.push(batch);
        if (!answer) return;
      }
    };
    const senders = [0, 1, 2, 3].map(sender);
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 20));
    running!.process.kill('SIGKILL');
    await running!.stop();
    stop = true;
    await Promise.all(senders);

    await start();
    const reader = new FileEventLog({
      dir: path.join(data.dir, 'events'),
      mode: 'reader',
      segmentBytes: 0,
      retentionMs: 0,
      maxDiskBytes: 0,
      dedupeWindowMs: 0,
      dedupeMaxIds: 1000,
    });
    await reader.open();
    const inLog = new Set<string>();
    let from = (await reader.stats()).first;
    for (;;) {
      const { records, next } = await reader.read(from, 5000);
      if (records.length === 0) break;
      for (const r of records) inLog.add(r.event.event_id);
      from = next;
    }
    const ackedIds = acknowledged.flat().map((e) => e.event_id as string);
    expect(ackedIds.length).toBeGreaterThanOrEqual(4000);
    expect(ackedIds.filter((id) => !inLog.has(id))).toEqual([]);

    const replay = await post(acknowledged[acknowledged.length - 1]!);
    expect(replay).toEqual({ accepted: 0, duplicates: 100, rejected: [] });
  }, 180_000);
});
