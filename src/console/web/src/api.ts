const KEY = 'etaserve.adminKey';

export function getKey(): string {
  return sessionStorage.getItem(KEY) ?? '';
}

export function setKey(key: string): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

/** An API error as the platform sends it: a code, a message and the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${getKey()}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as { error?: Record<string, unknown> } | undefined)?.error ?? {};
    const { code, message, field, ...details } = e;
    throw new ApiError(
      res.status,
      typeof code === 'string' ? code : `http_${res.status}`,
      typeof message === 'string' ? message : `${method} ${path} answered ${res.status}`,
      typeof field === 'string' ? field : undefined,
      details,
    );
  }
  return json as T;
}

export const get = <T>(path: string, signal?: AbortSignal): Promise<T> =>
  api<T>('GET', path, undefined, signal);
export const post = <T>(path: string, body?: unknown): Promise<T> => api<T>('POST', path, body ?? {});

/**
 * Server-Sent Events over fetch: EventSource cannot send the Authorization header. Calls `onEvent` per event and
 * reconnects after a drop until `signal` aborts.
 */
export async function streamEvents(
  path: string,
  onEvent: (event: string, data: string) => void,
  onStatus: (status: 'open' | 'retrying' | 'unauthorized') => void,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch(path, {
        headers: { authorization: `Bearer ${getKey()}`, accept: 'text/event-stream' },
        signal,
      });
      if (res.status === 401 || res.status === 403) {
        onStatus('unauthorized');
        return;
      }
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      onStatus('open');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          }
          if (data.length > 0) onEvent(event, data.join('\n'));
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    onStatus('retrying');
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export interface StoreJson {
  store_id: string;
  name: string;
  location: { lat: number; lng: number };
  category: string;
  timezone: string;
  delivery_radius_km: number;
  prep_profile: { mean_seconds: number; p90_seconds: number };
}

/** Every store, a page at a time. */
export async function allStores(signal?: AbortSignal): Promise<StoreJson[]> {
  const out: StoreJson[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const page: { stores: StoreJson[]; next_cursor: string | null } = await get(
      `/v1/stores?limit=1000${q}`,
      signal,
    );
    out.push(...page.stores);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

export interface EtaAnswer {
  store_id: string;
  eta_seconds: number;
  range_seconds: [number, number];
  promised_at: string;
  components: { prep_seconds: number; travel_seconds: number; other_seconds: number; distance_km: number };
  model_version: string;
  degraded: boolean;
}

export interface BatchAnswer {
  results: Array<EtaAnswer | { store_id: string; error: { code: string; message: string } }>;
}
