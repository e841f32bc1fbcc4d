/**
 * Promotion to serving, watched from outside: every predictor's `GET /v2/models/eta` (the version it answers with)
 * every 50 ms, and the champion alias's move in the registry (PostgreSQL `model_aliases.updated_at`, written by the
 * process that promoted), so a promotion made inside another process (a training run) is timed from its commit.
 */
import pg from 'pg';

export const POLL_MS = 50;

export interface Serving {
  version: string;
  /** Epoch ms each predictor (by address) first answered with the version. */
  firstServedAt: Record<string, number>;
  /** Epoch ms the last of them did; undefined on a timeout. */
  allAt?: number;
}

/** Polls every predictor until each has answered with `version` once (or `timeoutMs` passed). */
export async function watchServing(
  version: string,
  predictors: ReadonlyMap<string, { url: string }>,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<Serving> {
  const firstServedAt: Record<string, number> = {};
  const deadline = Date.now() + timeoutMs;
  const served = async (url: string): Promise<string | undefined> => {
    const res = await fetch(`${url}/v2/models/eta`, { headers, signal: AbortSignal.timeout(1000) }).catch(
      () => undefined,
    );
    if (!res?.ok) {
      await res?.body?.cancel();
      return undefined;
    }
    return ((await res.json()) as { versions: string[] }).versions[0];
  };
  while (Date.now() < deadline) {
    const due = Date.now() + POLL_MS;
    await Promise.all(
      [...predictors].map(async ([address, p]) => {
        if (firstServedAt[address] !== undefined) return;
        if ((await served(p.url)) === version) firstServedAt[address] = Date.now();
      }),
    );
    if (Object.keys(firstServedAt).length === predictors.size)
      return { version, firstServedAt, allAt: Math.max(...Object.values(firstServedAt)) };
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  }
  return { version, firstServedAt };
}

/** The registry's champion alias: its version and when it moved (epoch ms). */
export class ChampionReader {
  private readonly client: pg.Client;

  constructor(url: string) {
    this.client = new pg.Client({ connectionString: url });
  }

  async open(): Promise<void> {
    await this.client.connect();
  }

  async champion(): Promise<{ version: string; movedAt: number } | undefined> {
    const { rows } = await this.client
      .query<{
        version: string;
        updated_at: string;
      }>("SELECT version, updated_at FROM model_aliases WHERE alias = 'champion'")
      .catch(() => ({ rows: [] as Array<{ version: string; updated_at: string }> }));
    const row = rows[0];
    return row ? { version: row.version, movedAt: Date.parse(row.updated_at) } : undefined;
  }

  /** Resolves with the first champion other than `previous`, polled every `POLL_MS`, until `stop()` says so. */
  async nextChampion(
    previous: string | undefined,
    stop: () => boolean,
  ): Promise<{ version: string; movedAt: number } | undefined> {
    while (!stop()) {
      const c = await this.champion();
      if (c && c.version !== previous) return c;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
