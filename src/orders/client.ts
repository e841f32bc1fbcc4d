import { request } from 'undici';
import { EtaError, INTERNAL_TOKEN_HEADER, type HttpClient } from '../platform/index.js';
import type { ActiveOrder, LiveEta } from './live-eta.js';
import { ORDERS_INTERNAL_PREFIX, type OrderEtas } from './routes.js';

/**
 * Order ETAs of the orders process: what a gateway answers when the order state lives elsewhere, so every gateway
 * answers the same. A stream is the orders process's own, relayed: when a gateway restarts, its clients reconnect
 * to another and get the current answer first.
 */
export class OrdersClient implements OrderEtas {
  constructor(
    private readonly http: HttpClient,
    private readonly internalToken: string | undefined,
  ) {}

  async eta(orderId: string): Promise<LiveEta | undefined> {
    try {
      return await this.http.request<LiveEta>(
        'GET',
        `${ORDERS_INTERNAL_PREFIX}/${encodeURIComponent(orderId)}/eta`,
      );
    } catch (e) {
      if (e instanceof EtaError && e.code === 'order_not_found') return undefined;
      throw e;
    }
  }

  async atRisk(limit: number): Promise<ActiveOrder[]> {
    const res = await this.http.request<{ orders: ActiveOrder[] }>(
      'GET',
      `${ORDERS_INTERNAL_PREFIX}?limit=${limit}`,
    );
    return res.orders;
  }

  subscribe(orderId: string, listener: (eta: LiveEta) => void, onEnd?: (e?: Error) => void): () => void {
    const controller = new AbortController();
    const url = `${this.http.baseUrl.replace(/\/$/, '')}${ORDERS_INTERNAL_PREFIX}/${encodeURIComponent(orderId)}/eta/stream`;
    void (async () => {
      try {
        const res = await request(url, {
          signal: controller.signal,
          headers: this.internalToken ? { [INTERNAL_TOKEN_HEADER]: this.internalToken } : {},
        });
        if (res.statusCode !== 200) {
          await res.body.dump();
          throw new EtaError('upstream_unavailable', `orders stream answered ${res.statusCode}`);
        }
        let buffer = '';
        for await (const chunk of res.body) {
          buffer += String(chunk);
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = message
              .split('\n')
              .filter((line) => line.startsWith('data: '))
              .map((line) => line.slice(6))
              .join('\n');
            if (data) listener(JSON.parse(data) as LiveEta);
          }
        }
        onEnd?.();
      } catch (e) {
        if (!controller.signal.aborted) onEnd?.(e as Error);
      }
    })();
    return () => controller.abort();
  }
}
