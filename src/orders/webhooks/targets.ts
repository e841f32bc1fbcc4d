import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { EtaError } from '../../platform/index.js';

/**
 * Where webhooks may go. An admin key registers URLs, so a webhook is a request etaserve makes on someone's behalf:
 * without a guard it reaches the cluster's own services and the cloud's metadata endpoint (SSRF). Only https to
 * public addresses is allowed, checked at registration and again on every connection (the name may resolve
 * elsewhere later), unless `orders.webhookAllowPrivateTargets` is on (tests, a demo on one machine).
 */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 127],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv6');

/** Whether an address is loopback, private, link-local (the metadata endpoint) or otherwise not the internet. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  return PRIVATE.check(address, 'ipv6');
}

const MAX_URL_LENGTH = 2048;

/** The URL as it will be called, or a `bad_request` on `url` saying why it is refused. */
export function checkWebhookUrl(raw: string, allowPrivate: boolean): URL {
  const refuse = (why: string): EtaError =>
    new EtaError('bad_request', `webhook url refused: ${why}`, { field: 'url' });
  if (raw.length > MAX_URL_LENGTH) throw refuse(`longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('not an absolute URL');
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:'))
    throw refuse(allowPrivate ? 'only http and https' : 'only https');
  if (url.username || url.password)
    throw refuse('credentials in the URL are not kept secret; use the signature');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate) {
    if (isIP(host)) {
      if (isPrivateAddress(host)) throw refuse(`${host} is not a public address`);
    } else if (host === 'localhost' || host.endsWith('.localhost') || !host.includes('.')) {
      throw refuse(`${host} is not a public name`);
    }
  }
  return url;
}

/**
 * `dns.lookup` that fails for private addresses: the connection-time half of the guard, so a public name that
 * resolves to 10.0.0.5 (or is rebound to it after registration) is not called.
 */
export function publicOnlyLookup(): LookupFunction {
  return ((hostname: string, options: LookupOptions, callback: (...args: unknown[]) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err);
      const refused = addresses.find((a) => isPrivateAddress(a.address));
      if (refused) {
        const e = Object.assign(
          new Error(`${hostname} resolves to ${refused.address}, not a public address`),
          {
            code: 'EPRIVATEADDRESS',
          },
        );
        return callback(e);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }));
      callback(null, first.address, first.family);
    });
  }) as LookupFunction;
}
