// The model loader's thread (see model-loader.ts): everything heavy about a new model version happens here.
import { readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { compileModel, modelFromPortable, portableBuffers } from '../model/index.js';
import { openModelRegistry, type ModelRegistry, type RegistryDatabase } from '../registry/index.js';
import { checkGolden, warmUp, type Golden } from './model-checks.js';
import type { LoadReply, LoadRequest, LoadSource, LoadTimings } from './model-loader.js';

const registries = new Map<string, ModelRegistry>();

function registryAt(where: RegistryDatabase): ModelRegistry {
  const key = JSON.stringify(where);
  let registry = registries.get(key);
  // One connection is enough for a thread that reads one artifact at a time.
  if (!registry)
    registries.set(
      key,
      (registry = openModelRegistry(where.database === 'postgres' ? { ...where, poolSize: 1 } : where)),
    );
  return registry;
}

async function read(source: LoadSource): Promise<unknown> {
  if (source.kind === 'json') return source.json;
  if (source.kind === 'file') return JSON.parse(await readFile(source.path, 'utf8')) as unknown;
  return registryAt(source.where).loadArtifact(source.version);
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function handle(request: LoadRequest): Promise<{ reply: LoadReply; transfer: ArrayBuffer[] }> {
  const { id } = request;
  const t0 = performance.now();
  let json: unknown;
  try {
    json = await read(request.source);
  } catch (e) {
    return { reply: { id, ok: false, refused: false, reason: message(e) }, transfer: [] };
  }
  const t1 = performance.now();
  const timings = (t2: number, t3 = t2): LoadTimings => ({
    read_ms: t1 - t0,
    compile_ms: t2 - t1,
    check_ms: t3 - t2,
    total_ms: performance.now() - t0,
  });
  const refuse = (reason: string, t2: number, t3?: number): { reply: LoadReply; transfer: [] } => ({
    reply: { id, ok: false, refused: true, reason, timings: timings(t2, t3) },
    transfer: [],
  });
  const { golden, ...rest } = (typeof json === 'object' && json !== null ? json : {}) as Record<
    string,
    unknown
  > & { golden?: Golden };
  const compiled = compileModel(typeof json === 'object' && json !== null ? rest : json);
  const t2 = performance.now();
  if (!compiled.ok) return refuse(compiled.error.message, t2);
  const { portable, artifact } = compiled.value;
  const names = portable.spec.map((f) => f.name);
  const expected = request.expectFeatures;
  if (expected && names.join(',') !== expected.join(','))
    return refuse(
      `feature spec [${names.join(', ')}] is not the ETA feature definition [${expected.join(', ')}]`,
      t2,
    );
  if (!portable.outputNames.includes('p50'))
    return refuse(`model has no p50 output (outputs: ${portable.outputNames.join(', ')})`, t2);
  // The arrays are transferred below, so this model is only used until then.
  const model = modelFromPortable(portable, () => artifact);
  if (golden) {
    const failure = checkGolden(model, golden);
    if (failure) return refuse(failure, t2, performance.now());
  }
  const warm = warmUp(model, request.warmupRows, request.probeRows);
  if (!warm.ok) return refuse(warm.reason, t2, performance.now());
  const bytes = new TextEncoder().encode(JSON.stringify(artifact));
  const t3 = performance.now();
  return {
    reply: {
      id,
      ok: true,
      model: portable,
      artifact: bytes,
      calibration: artifact.calibration ?? null,
      probe: warm.probe,
      timings: timings(t2, t3),
    },
    transfer: [
      ...portableBuffers(portable),
      bytes.buffer as ArrayBuffer,
      warm.probe.rows.buffer as ArrayBuffer,
      warm.probe.outputs.buffer as ArrayBuffer,
    ],
  };
}

/**
 * A load is background work: on a busy machine it must not take a core from a thread that answers requests. Linux
 * keeps a nice value per thread, so this lowers the loader's alone; elsewhere (or if refused) it loads as it is.
 */
const LOADER_NICE = 10;
function yieldCoresToServing(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, LOADER_NICE);
  } catch {
    // Not Linux: no per-thread priority to lower.
  }
}

const port = parentPort;
if (!port) throw new Error('model-load-worker runs as a worker thread (see model-loader.ts)');
yieldCoresToServing();
port.on('message', (request: LoadRequest) => {
  handle(request)
    .catch((e: unknown) => ({
      reply: { id: request.id, ok: false, refused: true, reason: message(e) } satisfies LoadReply,
      transfer: [],
    }))
    .then(({ reply, transfer }) => port.postMessage(reply, transfer))
    .catch((e: unknown) =>
      port.postMessage({ id: request.id, ok: false, refused: false, reason: message(e) } satisfies LoadReply),
    );
});
