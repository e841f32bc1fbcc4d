import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, DEMO_KEY, ORDER, startInProcess, type InProcess } from './gateway-app.js';

let app: InProcess;

beforeAll(async () => {
  app = await startInProcess();
}, 120_000);

afterAll(() => app?.stop());

const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, key: string, payload?: unknown) => {
  const res = await app.proc.app.inject({
    method,
    url,
    headers: bearer(key),
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
};

it('creates, lists, rotates and revokes keys through /v1/admin/keys', async () => {
  const created = await call('POST', '/v1/admin/keys', DEMO_KEY, {
    name: 'checkout',
    scopes: ['predict'],
    rate_limit_per_second: 50,
  });
  expect(created.status).toBe(201);
  const key: string = created.body.key;
  const id: string = created.body.info.id;
  expect(key).toMatch(/^es_[a-z0-9]{8}_/);
  expect((await call('POST', '/v1/eta', key, ORDER)).status).toBe(200);

  // A predict key is not an admin key.
  const forbidden = await call('GET', '/v1/admin/keys', key);
  expect(forbidden.status).toBe(403);
  expect(forbidden.body.error.field).toBe('authorization');

  const listed = await call('GET', '/v1/admin/keys', DEMO_KEY);
  const mine = listed.body.keys.find((k: { id: string }) => k.id === id);
  expect(mine).toMatchObject({
    name: 'checkout',
    scopes: ['predict'],
    rate_limit_per_second: 50,
    revoked_at: null,
  });
  // The secret is all after the id: it may itself hold '_'.
  expect(JSON.stringify(listed.body)).not.toContain(key.replace(/^es_[a-z0-9]{8}_/, ''));
  expect(JSON.stringify(listed.body)).not.toContain('hash');

  const rotated = await call('POST', `/v1/admin/keys/${id}/rotate`, DEMO_KEY, { overlap_seconds: 60 });
  expect(rotated.status).toBe(201);
  const next: string = rotated.body.key;
  expect((await call('POST', '/v1/eta', key, ORDER)).status).toBe(200);
  expect((await call('POST', '/v1/eta', next, ORDER)).status).toBe(200);

  const revoked = await call('DELETE', `/v1/admin/keys/${rotated.body.info.id}`, DEMO_KEY);
  expect(revoked.status).toBe(200);
  expect(revoked.body.revoked_at).toEqual(expect.any(String));
  expect((await call('POST', '/v1/eta', next, ORDER)).status).toBe(401);

  const unknown = await call('DELETE', '/v1/admin/keys/zzzzzzzz', DEMO_KEY);
  expect(unknown.status).toBe(404);
  const bad = await call('POST', '/v1/admin/keys', DEMO_KEY, { name: 'x', scopes: ['root'] });
  expect(bad.status).toBe(400);
  expect(bad.body.error.field).toMatch(/^scopes/);
});
