import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchWithin } from './fetch-within.js';

/** A server like a frozen process: it takes the connection and never answers, or stops halfway through a body. */
describe('fetchWithin', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') return void res.end('fine');
      if (req.url === '/stalls-mid-body') return void res.writeHead(200).write('half');
      // '/silent': no answer at all
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('gives the answer read within the deadline', async () => {
    expect(await fetchWithin(`${url}/ok`, 2000, (res) => res.text())).toBe('fine');
  });

  it('rejects with a TimeoutError when the server never answers', async () => {
    await expect(fetchWithin(`${url}/silent`, 200, (res) => res.text())).rejects.toMatchObject({
      name: 'TimeoutError',
    });
  });

  it('rejects with a TimeoutError when the body stops coming: reading is inside the deadline', async () => {
    await expect(fetchWithin(`${url}/stalls-mid-body`, 200, (res) => res.text())).rejects.toMatchObject({
      name: 'TimeoutError',
    });
  });
});
