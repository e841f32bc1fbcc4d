/** A load in progress for one key; every concurrent reader of the key awaits the same promise (single flight). */
export interface Flight<V> {
  promise: Promise<V | undefined>;
  /**
   * Set when the key is invalidated or explicitly set mid-load: the result still answers its waiters but is not
   * stored, since it may predate the change.
   */
  dropped?: 'invalidated' | 'set';
}

export interface Deferred<V> {
  flight: Flight<V>;
  resolve(value: V | undefined): void;
  reject(error: unknown): void;
}

export function defer<V>(): Deferred<V> {
  let resolve!: (value: V | undefined) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<V | undefined>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { flight: { promise }, resolve, reject };
}
