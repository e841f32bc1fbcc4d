/**
 * `fetch` with a deadline over the whole exchange: `read` consumes the answer before the deadline too. The timer is
 * this call's own. `AbortSignal.timeout` holds its signal only weakly, and a fetch waiting on a server that never
 * answers (a frozen process) can lose that signal to garbage collection and then wait forever.
 */
export async function fetchWithin<T>(
  url: string,
  timeoutMs: number,
  read: (res: Response) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')),
    timeoutMs,
  );
  try {
    return await read(await fetch(url, { signal: controller.signal }));
  } finally {
    clearTimeout(timer);
  }
}
