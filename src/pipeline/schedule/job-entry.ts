import { scheduledRun, type ScheduledJobSpec } from './scheduled-run.js';

// A scheduled run in its own process: training is CPU-bound for tens of seconds, and the serving process's event
// loop must not wait for it. The parent sends one spec and gets back one summary (or the error).
process.once('message', (spec: ScheduledJobSpec) => {
  scheduledRun(spec, (line) => process.send?.({ log: line }))
    .then((summary) => process.send?.({ summary }, () => process.exit(0)))
    .catch((e: unknown) => process.send?.({ error: (e as Error).stack ?? String(e) }, () => process.exit(1)));
});
