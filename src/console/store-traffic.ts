import type { FastifyReply, FastifyRequest } from 'fastify';

const SLOT_MS = 60_000;

/**
 * ETA requests per store over the last minutes, for the map's hot stores. Counted in one-minute slots so old
 * traffic ages out without a timer; a few thousand stores cost a few thousand map entries per slot.
 */
export class StoreTraffic {
  private readonly slots: Array<{ start: number; counts: Map<string, number> }> = [];

  constructor(
    private readonly windowMinutes = 15,
    private readonly now: () => number = Date.now,
  ) {}

  record(storeIds: readonly string[]): void {
    const start = Math.floor(this.now() / SLOT_MS) * SLOT_MS;
    let slot = this.slots[this.slots.length - 1];
    if (!slot || slot.start !== start) {
      slot = { start, counts: new Map() };
      this.slots.push(slot);
      while (this.slots.length > this.windowMinutes) this.slots.shift();
    }
    for (const id of storeIds) slot.counts.set(id, (slot.counts.get(id) ?? 0) + 1);
  }

  /** Requests per store within the window, busiest first. */
  top(limit = 10_000): {
    windowSeconds: number;
    total: number;
    stores: Array<{ storeId: string; requests: number }>;
  } {
    const oldest = Math.floor(this.now() / SLOT_MS) * SLOT_MS - (this.windowMinutes - 1) * SLOT_MS;
    const totals = new Map<string, number>();
    let total = 0;
    for (const slot of this.slots) {
      if (slot.start < oldest) continue;
      for (const [id, n] of slot.counts) {
        totals.set(id, (totals.get(id) ?? 0) + n);
        total += n;
      }
    }
    const stores = [...totals]
      .map(([storeId, requests]) => ({ storeId, requests }))
      .sort((a, b) => b.requests - a.requests)
      .slice(0, limit);
    return { windowSeconds: this.windowMinutes * 60, total, stores };
  }
}

const ETA_ROUTES = new Set(['/v1/eta', '/v1/eta/batch']);

/**
 * An onResponse hook for the whole server that counts the stores of every answered ETA request. It sits in front
 * of the response cache, so a popular store counts every time it is asked about, not only on a miss.
 */
export function storeTrafficHook(
  traffic: StoreTraffic,
): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (req, reply) => {
    if (
      reply.statusCode !== 200 ||
      req.warmUp === true ||
      req.method !== 'POST' ||
      !ETA_ROUTES.has(req.routeOptions.url ?? '')
    )
      return;
    const body = req.body as { store_id?: unknown; store_ids?: unknown } | undefined;
    if (typeof body?.store_id === 'string') traffic.record([body.store_id]);
    else if (Array.isArray(body?.store_ids))
      traffic.record(body.store_ids.filter((id): id is string => typeof id === 'string'));
  };
}
