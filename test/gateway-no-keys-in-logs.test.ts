import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, DEMO_KEY, ORDER, startInProcess, type InProcess } from './gateway-app.js';

let app: InProcess;

beforeAll(async () => {
  // The most talkative level, so anything that could carry a key is written.
  app = await startInProcess({}, 'trace');
}, 120_000);

afterAll(() => app?.stop());

it('never writes an API key to the logs, whatever the request did', async () => {
  const inject = (key: string, url: string, payload: unknown) =>
    app.proc.app.inject({ method: 'POST', url, headers: bearer(key), payload: payload as object });
  const created = await inject(DEMO_KEY, '/v1/admin/keys', { name: 'logs', scopes: ['predict'] });
  const key: string = created.json<{ key: string }>().key;
  await inject(key, '/v1/eta', ORDER);
  await inject(key, '/v1/eta', { ...ORDER, destination: { lat: 91, lng: 0 } });
  await inject(key, '/v1/eta/batch', { destination: ORDER.destination, store_ids: ['s-0001', 'nope'] });
  await inject(key, '/v1/admin/keys', { name: 'nope', scopes: ['admin'] });
  const wrong = `${key.slice(0, -4)}AAAA`;
  await inject(wrong, '/v1/eta', ORDER);
  await app.proc.app.inject({
    method: 'POST',
    url: '/v1/eta',
    headers: { authorization: `Basic ${key}` },
    payload: ORDER,
  });

  const logs = app.logs();
  expect(logs.length).toBeGreaterThan(0);
  // The secret is everything after `es_<id>_`; it may itself contain '_'.
  const secretPart = key.slice('es_'.length + 8 + 1);
  for (const secret of [key, secretPart, wrong, DEMO_KEY]) expect(logs).not.toContain(secret);
});
