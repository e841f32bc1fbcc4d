#!/usr/bin/env node
/* global fetch, AbortSignal */
// Pre-peak scaling: set each module HPA's minReplicas and the balloon's replicas for one peak window.
//
//   node prepeak.mjs --peak lunch|dinner --action raise|lower [--dry-run]
//
// raise: every `<module>-<peak>` value from the schedule; lower: every `<module>-offpeak` value. Absolute values, so
// a retry or a late run is harmless. Lowering only lowers the floor: the HPA then scales down at its own pace.
//
// The schedule is the etaserve-prepeak-schedule ConfigMap mounted as files (one per key) in PREPEAK_SCHEDULE_DIR.
// It runs in the etaserve image with no dependencies: Node 20's fetch, the pod's service-account token, and the
// cluster CA through NODE_EXTRA_CA_CERTS. PREPEAK_API_URL and PREPEAK_TOKEN_FILE override the in-cluster defaults
// (tests use them against a fake API server).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const BALLOON = 'balloon';

function log(level, msg, fields = {}) {
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
  // Job logs: errors on stderr, the rest on stdout.
  if (level === 'error') console.error(line);
  else process.stdout.write(`${line}\n`);
}

function parseArgs(argv) {
  const args = { dryRun: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dry-run') args.dryRun = true;
    else if (a === '--peak') args.peak = argv[++i];
    else if (a === '--action') args.action = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.peak) throw new Error('--peak is required');
  if (args.action !== 'raise' && args.action !== 'lower') throw new Error('--action must be raise or lower');
  return args;
}

function readSchedule(dir) {
  const schedule = {};
  for (const name of readdirSync(dir)) {
    // A mounted ConfigMap also holds ..data and timestamped folders: keys are plain files without a leading dot.
    if (name.startsWith('.')) continue;
    schedule[name] = readFileSync(path.join(dir, name), 'utf8').trim();
  }
  return schedule;
}

/** The targets for one run: [{ module, kind, namespace, name, value }], or an Error naming every bad key. */
export function plan(schedule, peak, action, ownNamespace) {
  const modules = Object.keys(schedule)
    .filter((k) => k.endsWith('-offpeak'))
    .map((k) => k.slice(0, -'-offpeak'.length))
    .sort();
  const problems = [];
  if (!(`${peak}-raise` in schedule)) problems.push(`unknown peak "${peak}" (no ${peak}-raise key)`);
  if (modules.length === 0) problems.push('no <module>-offpeak keys');
  const targets = [];
  for (const module of modules) {
    const key = action === 'raise' ? `${module}-${peak}` : `${module}-offpeak`;
    const raw = schedule[key];
    const value = Number(raw);
    if (raw === undefined || !/^\d+$/.test(raw) || !Number.isSafeInteger(value)) {
      problems.push(`${key} must be a whole number, got ${JSON.stringify(raw)}`);
      continue;
    }
    if (module !== BALLOON && value < 1) problems.push(`${key}: an HPA's minReplicas must be at least 1`);
    targets.push(
      module === BALLOON
        ? { module, kind: 'scale', namespace: ownNamespace, name: 'etaserve-balloon', value }
        : { module, kind: 'hpa', namespace: `etaserve-${module}`, name: `etaserve-${module}`, value },
    );
  }
  if (problems.length > 0) throw new Error(`bad schedule: ${problems.join('; ')}`);
  return targets;
}

function apiClient() {
  const base =
    process.env.PREPEAK_API_URL ??
    `https://${process.env.KUBERNETES_SERVICE_HOST}:${process.env.KUBERNETES_SERVICE_PORT ?? '443'}`;
  const token = readFileSync(process.env.PREPEAK_TOKEN_FILE ?? `${SA_DIR}/token`, 'utf8').trim();
  const call = async (method, urlPath, body) => {
    const res = await fetch(base + urlPath, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        ...(body ? { 'content-type': 'application/merge-patch+json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${urlPath}: HTTP ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  return call;
}

async function apply(call, target, dryRun) {
  if (target.kind === 'hpa') {
    const url = `/apis/autoscaling/v2/namespaces/${target.namespace}/horizontalpodautoscalers/${target.name}`;
    const hpa = await call('GET', url);
    const max = hpa.spec.maxReplicas;
    let value = target.value;
    if (value > max) {
      // Raising the floor above the ceiling is rejected by the API; cap it and say so.
      log('warn', 'minReplicas capped at maxReplicas', { ...target, maxReplicas: max });
      value = max;
    }
    const before = hpa.spec.minReplicas ?? 1;
    if (!dryRun && before !== value) await call('PATCH', url, { spec: { minReplicas: value } });
    log('info', 'hpa minReplicas', {
      namespace: target.namespace,
      name: target.name,
      before,
      after: value,
      dryRun,
    });
    return;
  }
  const url = `/apis/apps/v1/namespaces/${target.namespace}/deployments/${target.name}/scale`;
  const scale = await call('GET', url);
  const before = scale.spec.replicas ?? 0;
  if (!dryRun && before !== target.value) await call('PATCH', url, { spec: { replicas: target.value } });
  log('info', 'balloon replicas', {
    namespace: target.namespace,
    name: target.name,
    before,
    after: target.value,
    dryRun,
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const schedule = readSchedule(process.env.PREPEAK_SCHEDULE_DIR ?? '/etc/prepeak/schedule');
  const ownNamespace = process.env.PREPEAK_NAMESPACE ?? readFileSync(`${SA_DIR}/namespace`, 'utf8').trim();
  const targets = plan(schedule, args.peak, args.action, ownNamespace);
  log('info', 'pre-peak run', {
    peak: args.peak,
    action: args.action,
    targets: targets.length,
    dryRun: args.dryRun,
  });
  const call = apiClient();
  // Raise the balloon last and lower it first: real pods come before placeholders.
  const ordered = [...targets].sort((a, b) =>
    a.kind === b.kind ? 0 : (a.kind === 'scale') === (args.action === 'raise') ? 1 : -1,
  );
  let failed = 0;
  for (const target of ordered) {
    try {
      await apply(call, target, args.dryRun);
    } catch (e) {
      // Keep going: one module's failure must not leave the others unscaled. The Job retries the whole (idempotent) run.
      failed++;
      log('error', 'target failed', { ...target, error: String(e instanceof Error ? e.message : e) });
    }
  }
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      log('error', 'pre-peak run failed', { error: String(e instanceof Error ? e.message : e) });
      process.exitCode = 2;
    },
  );
}
