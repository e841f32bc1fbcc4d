/**
 * The generator process. `runLoad` starts it with `node --import tsx bench/loadgen/worker.ts` and an IPC channel,
 * sends one `{ type: 'run', options }`, and gets back `measure-start`, `measure-end` and one `result` (or `error`).
 * Running apart from the parent keeps the generator's CPU off the measured server's books and measurable.
 */
import { runOpenLoop } from './engine.js';
import { loadSource } from './source.js';
import type { LoadOptions, WorkerMessage } from './types.js';

function send(msg: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

async function run(options: LoadOptions): Promise<void> {
  try {
    const source = await loadSource(options.source);
    const result = await runOpenLoop(options, source, {
      onMeasureStart: () => void send({ type: 'measure-start' }),
      onMeasureEnd: () => void send({ type: 'measure-end' }),
    });
    await send({ type: 'result', result });
  } catch (err) {
    await send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  process.disconnect?.();
}

if (!process.send) {
  console.error(
    'bench/loadgen/worker.ts runs under runLoad() with an IPC channel; use the CLI (cli.ts) instead',
  );
  process.exit(2);
}
process.once('message', (msg: { type: 'run'; options: LoadOptions }) => {
  if (msg?.type === 'run') void run(msg.options);
});
// The parent going away ends the run.
process.on('disconnect', () => process.exit(0));
