/**
 * npm run bench:loadgen -- --url http://127.0.0.1:8001 --path /predict --rate 1000 --duration 10 \
 *     --body-file ../shared/peers/fastapi-xgboost/payload_single.jsonl [--timeline] [--json]
 * npm run bench:loadgen -- ... --search --slo p99:25 --start-rate 500     (max rate search)
 * npm run bench:loadgen -- --ceiling [--quick]                             (the generator's own ceiling)
 */
import { parseArgs } from 'node:util';
import { formatResult, formatSteps, maxRateSearch, runLoad } from './index.js';
import type { LoadOptions, Slo, SourceSpec } from './index.js';

const HELP = `usage: npm run bench:loadgen -- --url URL [options]
  --url URL              origin, e.g. http://127.0.0.1:8001 (required); repeat it to spread requests over several
                         origins round-robin (e.g. two gateways), each with its own connections
  --path PATH            default /
  --method M             default POST with a body source, else GET
  --header 'k: v'        repeatable (e.g. an auth header)
  --rate N               requests/s, open loop (default 100)
  --duration S           measured seconds (default 10)
  --warmup S             warm-up seconds, not recorded (default 2)
  --connections N        keep-alive connections (default 64)
  --timeout MS           timeout from the intended send time (default 2000)
  --body-file F          JSONL: one body per line, cycled
  --items-field NAME     count rows per request as the length of this array field (e.g. orders)
  --module F             request source module (exports createSource(options))
  --module-options JSON  options for --module
  --timeline             print the per-second timeline
  --json                 print the full result as JSON
  --search               max rate search instead of one run
  --slo P:MS             search target, e.g. p99:25 (default p99:25)
  --start-rate N         search start (default --rate)
  --growth X             search growth factor (default 1.5)
  --ceiling              measure the generator's own ceiling against a trivial server (see ceiling.ts)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', multiple: true },
      path: { type: 'string' },
      method: { type: 'string' },
      header: { type: 'string', multiple: true },
      rate: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      timeout: { type: 'string' },
      'body-file': { type: 'string' },
      'items-field': { type: 'string' },
      module: { type: 'string' },
      'module-options': { type: 'string' },
      timeline: { type: 'boolean' },
      json: { type: 'boolean' },
      search: { type: 'boolean' },
      slo: { type: 'string' },
      'start-rate': { type: 'string' },
      growth: { type: 'string' },
      ceiling: { type: 'boolean' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.ceiling) {
    const { main: ceiling } = await import('./ceiling.js');
    return ceiling(values.quick ? ['--quick'] : []);
  }
  if (!values.url?.length) {
    console.error(HELP);
    return 2;
  }
  const num = (v: string | undefined, d: number): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
    return n;
  };
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const i = h.indexOf(':');
    if (i <= 0) throw new Error(`bad --header "${h}", expected "name: value"`);
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  let source: SourceSpec | undefined;
  if (values['body-file']) {
    source = { kind: 'jsonl', file: values['body-file'] };
    if (values['items-field']) source.itemsField = values['items-field'];
  } else if (values.module) {
    const options = values['module-options']
      ? (JSON.parse(values['module-options']) as Record<string, unknown>)
      : {};
    source = { kind: 'module', module: values.module, options };
  }
  const url = new URL(values.url[0]!);
  const options: LoadOptions = {
    url: url.origin,
    ...(values.url.length > 1 ? { urls: values.url } : {}),
    path: values.path ?? (url.pathname + url.search === '/' ? '/' : url.pathname + url.search),
    headers,
    rate: num(values.rate, 100),
    durationSec: num(values.duration, 10),
    warmupSec: num(values.warmup, 2),
    connections: num(values.connections, 64),
    timeoutMs: num(values.timeout, 2000),
    ...(values.method ? { method: values.method.toUpperCase() } : {}),
    ...(source ? { source } : {}),
  };

  if (values.search) {
    const [p, ms] = (values.slo ?? 'p99:25').split(':');
    const slo = { percentile: p as Slo['percentile'], maxMs: num(ms, 25) };
    const { rate: _rate, ...base } = options;
    const res = await maxRateSearch({
      base,
      slo,
      startRate: num(values['start-rate'], options.rate),
      growth: num(values.growth, 1.5),
      onStep: (s) => console.log(formatSteps([s])),
    });
    if (values.json) console.log(JSON.stringify(res, null, 2));
    console.log(`max rate meeting ${slo.percentile} <= ${slo.maxMs} ms with no errors: ${res.maxRate}/s`);
    return 0;
  }

  const result = await runLoad(options);
  console.log(
    values.json ? JSON.stringify(result, null, 2) : formatResult(result, { timeline: values.timeline }),
  );
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
