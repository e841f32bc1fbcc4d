import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './deliverer.js';
import { checkWebhookUrl, isPrivateAddress, publicOnlyLookup } from './targets.js';

describe('webhook targets', () => {
  it('tells private and loopback addresses from public ones', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
    ])
      expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ['::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1'])
      expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
      expect(isPrivateAddress(a), a).toBe(false);
    expect(isPrivateAddress('not-an-address')).toBe(true);
  });

  it('takes https to public hosts only, unless private targets are allowed', () => {
    expect(checkWebhookUrl('https://hooks.example.com/eta?x=1', false).href).toBe(
      'https://hooks.example.com/eta?x=1',
    );
    expect(checkWebhookUrl('https://[2606:4700:4700::1111]/x', false).hostname).toBe(
      '[2606:4700:4700::1111]',
    );
    const refused = [
      ['http://hooks.example.com/', 'only https'],
      ['https://127.0.0.1/', 'not a public address'],
      ['https://169.254.169.254/latest/meta-data', 'not a public address'],
      ['https://[::1]:8080/', 'not a public address'],
      ['https://localhost/', 'not a public name'],
      ['https://orders-internal/', 'not a public name'],
      ['https://user:pw@hooks.example.com/', 'credentials'],
      ['ftp://hooks.example.com/', 'only https'],
      ['hooks.example.com/eta', 'not an absolute URL'],
    ];
    for (const [url, why] of refused) expect(() => checkWebhookUrl(url!, false), url).toThrow(why!);
    expect(checkWebhookUrl('http://127.0.0.1:9999/hook', true).port).toBe('9999');
    expect(() => checkWebhookUrl('file:///etc/passwd', true)).toThrow('only http and https');
  });

  it('refuses, at connection time, a name that resolves to a private address', async () => {
    const lookup = publicOnlyLookup();
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      lookup('localhost', {}, (err) => resolve(err)),
    );
    expect(error?.code).toBe('EPRIVATEADDRESS');
    expect(error?.message).toMatch(/localhost resolves to .* not a public address/);
  });
});

describe('webhook retry delays', () => {
  const settings = { backoffBaseMs: 1000, backoffMaxMs: 60_000 };

  it('doubles per attempt, with jitter between half and the whole, up to the cap', () => {
    for (const random of [0, 0.5, 0.999]) {
      const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => retryDelayMs(n, settings, () => random));
      delays.forEach((d, i) => {
        const full = Math.min(60_000, 1000 * 2 ** i);
        expect(d).toBeGreaterThanOrEqual(full / 2);
        expect(d).toBeLessThanOrEqual(full);
      });
    }
    expect(retryDelayMs(40, settings, () => 1)).toBe(60_000);
  });

  it("waits at least as long as the receiver's Retry-After, within the cap", () => {
    expect(retryDelayMs(1, settings, () => 0, 30_000)).toBe(30_000);
    expect(retryDelayMs(1, settings, () => 0, 3_600_000)).toBe(60_000);
  });
});
