import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { requireBinary } from '../support/binaries.js';

/** Helpers shared by the deploy tests: where the manifests are, and how to render and read them. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const K8S = path.join(ROOT, 'deploy/k8s');

/** Every kustomization that must build, by name (the name is how tests and failures refer to it). */
export const KUSTOMIZATIONS = {
  base: 'base',
  dev: 'overlays/dev',
  prod: 'overlays/prod',
  'prod-rps': 'overlays/prod-rps',
  keda: 'overlays/keda',
  examples: 'examples',
} as const;
export type KustomizationName = keyof typeof KUSTOMIZATIONS;

/** Plain YAML manifests that kustomize does not render but people apply (secret layouts). */
export const PLAIN_MANIFESTS = ['overlays/prod/secrets.example.yaml', 'examples/secrets.example.yaml'];

/**
 * The modules of prod, each a Deployment `etaserve-<module>` in its own namespace running `--target <module>`: every
 * runnable target of the module table (src/app/modules.ts; test/deploy/policy.test.ts checks that they match).
 */
export const MODULES = ['gateway', 'predictor', 'geo', 'store', 'pipeline', 'orders'] as const;
export type Module = (typeof MODULES)[number];
/**
 * Modules served by exactly one pod, the single owner of their state (orders: the order state, its alerts and
 * webhooks): `replicas: 1`, `Recreate`, no autoscaler, no pre-peak floor.
 */
export const SINGLE_REPLICA = ['orders'] as const satisfies readonly Module[];
/** The modules an HPA scales: the pre-peak schedule, its RBAC and the KEDA overlay cover exactly these. */
export const AUTOSCALED = MODULES.filter(
  (m): m is Exclude<Module, (typeof SINGLE_REPLICA)[number]> =>
    !(SINGLE_REPLICA as readonly string[]).includes(m),
);

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

export function parseYamlStream(text: string, source: string): K8sObject[] {
  const docs = parseAllDocuments(text);
  const out: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) out.push(value);
  }
  return out;
}

export const kubectl = (): string | undefined =>
  requireBinary('kubectl', 'the kustomize build and manifest checks');

const cache = new Map<string, K8sObject[]>();

/** `kubectl kustomize` of one kustomization, parsed (memoised per test file). */
export function render(kubectlPath: string, name: KustomizationName): K8sObject[] {
  const hit = cache.get(name);
  if (hit) return hit;
  const text = execFileSync(kubectlPath, ['kustomize', path.join(K8S, KUSTOMIZATIONS[name])], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const objects = parseYamlStream(text, name);
  cache.set(name, objects);
  return objects;
}

export function readPlain(rel: string): K8sObject[] {
  return parseYamlStream(readFileSync(path.join(K8S, rel), 'utf8'), rel);
}

export const id = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`;

export function ofKind<T = K8sObject>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as unknown as T[];
}
