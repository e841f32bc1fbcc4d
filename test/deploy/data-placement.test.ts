import path from 'node:path';
import type { Deployment, StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { CronJob } from 'kubernetes-types/batch/v1.js';
import type {
  ConfigMap,
  Container,
  PersistentVolumeClaim,
  PodSpec,
  Secret,
  Service,
} from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { eventsConfigSchema } from '../../src/events/config.js';
import { lakeDirOf } from '../../src/pipeline/etl/lake.js';
import { kubectl, ofKind, readPlain, render, type K8sObject, type KustomizationName } from './manifests.js';

/**
 * Where every kind of data lives in production (docs/deploy.md, "Where the data lives"): the event log in a
 * separate noeviction + AOF Redis, the catalog, the registry and the secrets' keys in PostgreSQL and Secrets, the
 * Parquet lake on the pipeline's own volume, and nothing that must survive in the pods of gateway, predictor, store,
 * geo and orders (their in-memory state is a projection of the log).
 */
const bin = kubectl();
const OVERLAYS: KustomizationName[] = ['prod', 'prod-rps', 'keda'];
const STATELESS = ['gateway', 'predictor', 'store', 'geo', 'orders'] as const;
/** Writable paths a stateless pod may have: scratch only, each an emptyDir with a sizeLimit. */
const SCRATCH = ['/tmp'];

interface Module {
  deployment: Deployment;
  pod: PodSpec;
  container: Container;
  /** The container's effective environment: its ConfigMaps (envFrom) overridden by its own `env`. */
  env: Record<string, string>;
}

function moduleOf(objects: K8sObject[], name: string): Module {
  const namespace = `etaserve-${name}`;
  const deployment = ofKind<Deployment>(objects, 'Deployment').find(
    (d) => d.metadata?.namespace === namespace && d.metadata?.name === `etaserve-${name}`,
  );
  if (!deployment) throw new Error(`no Deployment etaserve-${name} in ${namespace}`);
  const pod = deployment.spec!.template.spec!;
  const container = pod.containers.find((c) => c.name === 'etaserve')!;
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (!from.configMapRef) continue;
    const cm = ofKind<ConfigMap>(objects, 'ConfigMap').find(
      (c) => c.metadata?.namespace === namespace && c.metadata?.name === from.configMapRef!.name,
    );
    Object.assign(env, cm?.data ?? {});
  }
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return { deployment, pod, container, env };
}

/** `6gb`, `512mb`, `1073741824` as redis-server reads them (k/m/g are powers of 1000, kb/mb/gb of 1024). */
function redisBytes(value: string): number {
  const m = /^(\d+)(k|kb|m|mb|g|gb)?$/i.exec(value.trim());
  if (!m) throw new Error(`not a Redis memory size: ${value}`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult: Record<string, number> = {
    '': 1,
    k: 1e3,
    kb: 1024,
    m: 1e6,
    mb: 1024 ** 2,
    g: 1e9,
    gb: 1024 ** 3,
  };
  return Number(m[1]) * mult[unit]!;
}

/** The value after `flag` in a redis-server argument list. */
function redisArg(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

const within = (child: string, parent: string): boolean => {
  const rel = path.posix.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.posix.isAbsolute(rel));
};

describe.skipIf(!bin)('where the data lives in production', () => {
  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      const objects = (): K8sObject[] => render(bin!, overlay);

      it('the event log is in Redis Streams, on its own Redis, in every module (never the file log)', () => {
        const cacheNodes = new Set<string>();
        for (const name of [...STATELESS, 'pipeline']) {
          const { env } = moduleOf(objects(), name);
          expect(env.ETASERVE_EVENTS_BACKEND, name).toBe('redis');
          const url = new URL(env.ETASERVE_EVENTS_REDIS_URL ?? '');
          expect(url.protocol, name).toBe('redis:');
          expect(url.hostname, name).toBe('redis-events.etaserve-data.svc.cluster.local');
          expect(env.ETASERVE_EVENTS_DIR, name).toBeUndefined();
          for (const node of (env.ETASERVE_CACHE_REDIS_CLUSTER_NODES ?? '').split(',').filter(Boolean))
            cacheNodes.add(node.split(':')[0]!);
          if (env.ETASERVE_CACHE_REDIS_URL) cacheNodes.add(new URL(env.ETASERVE_CACHE_REDIS_URL).hostname);
        }
        // The cache's Redis evicts (LRU): the log must not share it.
        expect(cacheNodes.size).toBeGreaterThan(0);
        expect([...cacheNodes]).not.toContain('redis-events.etaserve-data.svc.cluster.local');
      });

      it('no manifest of the overlay sets ETASERVE_EVENTS_BACKEND=file', () => {
        const text = JSON.stringify(objects());
        expect(text).not.toMatch(/ETASERVE_EVENTS_BACKEND"?\s*[:=]\s*"?file/);
        for (const cm of ofKind<ConfigMap>(objects(), 'ConfigMap'))
          expect(cm.data?.ETASERVE_EVENTS_BACKEND ?? 'redis', cm.metadata?.name).not.toBe('file');
      });

      it('the catalog, the model registry and its artifacts are in PostgreSQL, its URL from a Secret', () => {
        for (const name of [...STATELESS, 'pipeline']) {
          const { env, container } = moduleOf(objects(), name);
          expect(env.ETASERVE_STORE_DATABASE, name).toBe('postgres');
          // The URL holds a password: never in a ConfigMap or the manifest's env.
          expect(env.ETASERVE_STORE_POSTGRES_URL, name).toBeUndefined();
          expect(env.ETASERVE_STORE_SQLITE_PATH, name).toBeUndefined();
          const secretRef = container.envFrom?.find((e) => e.secretRef)?.secretRef;
          expect(secretRef?.name, name).toBe('etaserve-secrets');
          expect(secretRef?.optional ?? false, name).toBe(false);
        }
        // The layout people copy has the URL in every module's etaserve-secrets.
        const secrets = readPlain('overlays/prod/secrets.example.yaml') as unknown as Secret[];
        for (const name of [...STATELESS, 'pipeline']) {
          const s = secrets.find(
            (x) => x.metadata?.name === 'etaserve-secrets' && x.metadata.namespace === `etaserve-${name}`,
          );
          expect(s?.stringData?.ETASERVE_STORE_POSTGRES_URL, name).toMatch(/^postgres:\/\//);
        }
      });

      it('the admin key and the internal token come from Secrets, mounted read-only', () => {
        for (const name of [...STATELESS, 'pipeline']) {
          const { env, pod, container } = moduleOf(objects(), name);
          const files: Array<[string, string]> = [['ETASERVE_INTERNAL_TOKEN_FILE', 'etaserve-internal']];
          if (name === 'gateway') files.push(['ETASERVE_GATEWAY_ADMIN_KEY_FILE', 'etaserve-admin-key']);
          for (const [variable, secretName] of files) {
            const file = env[variable];
            expect(file, `${name} ${variable}`).toBeTruthy();
            const mount = container.volumeMounts?.find((m) => within(file!, m.mountPath));
            expect(mount?.readOnly, `${name} ${variable}`).toBe(true);
            const volume = pod.volumes?.find((v) => v.name === mount?.name);
            expect(volume?.secret?.secretName, `${name} ${variable}`).toBe(secretName);
          }
        }
      });

      it('the lake is on the pipeline’s own PersistentVolumeClaim, which the training job reads', () => {
        const { env, pod, container } = moduleOf(objects(), 'pipeline');
        const lake = lakeDirOf(env.ETASERVE_DATA_DIR ?? '');
        const mount = container.volumeMounts?.find((m) => m.mountPath === lake);
        expect(mount, `a volume mounted at ${lake}`).toBeDefined();
        expect(mount?.readOnly ?? false).toBe(false);
        const claim = pod.volumes?.find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
        expect(claim).toBeTruthy();
        const pvc = ofKind<PersistentVolumeClaim>(objects(), 'PersistentVolumeClaim').find(
          (p) => p.metadata?.name === claim && p.metadata?.namespace === 'etaserve-pipeline',
        );
        expect(pvc, `PVC ${claim}`).toBeDefined();
        // Every other volume of the pipeline is bounded scratch (its /data: DuckDB spill, reports).
        for (const v of pod.volumes ?? []) {
          if (v.emptyDir) expect(v.emptyDir.sizeLimit, v.name).toBeTruthy();
          if (v.persistentVolumeClaim) expect(v.persistentVolumeClaim.claimName, v.name).toBe(claim);
        }
        // The training job (components/training) mounts the same claim.
        const train = ofKind<CronJob>(objects(), 'CronJob').find(
          (c) => c.metadata?.namespace === 'etaserve-pipeline' && c.metadata?.name === 'etaserve-train',
        );
        const claims = (train?.spec?.jobTemplate.spec?.template.spec?.volumes ?? []).map(
          (v) => v.persistentVolumeClaim?.claimName,
        );
        expect(claims).toContain(claim);
      });

      for (const name of STATELESS) {
        it(`${name}: no PVC, and nothing writable but bounded scratch (its data directory is read-only)`, () => {
          const { env, pod, container } = moduleOf(objects(), name);
          const dataDir = env.ETASERVE_DATA_DIR;
          expect(dataDir).toBeTruthy();
          expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
          expect(pod.volumes?.filter((v) => v.persistentVolumeClaim) ?? []).toEqual([]);
          for (const v of pod.volumes ?? []) {
            expect(v.hostPath, v.name).toBeUndefined();
            expect(v.ephemeral, v.name).toBeUndefined();
            if (v.emptyDir)
              expect(v.emptyDir.sizeLimit, `${v.name}: emptyDir without sizeLimit`).toBeTruthy();
          }
          const writable = (container.volumeMounts ?? []).filter((m) => !m.readOnly).map((m) => m.mountPath);
          expect(writable.filter((p) => !SCRATCH.includes(p))).toEqual([]);
          // The data directory, and anything above or below it, is not writable: the image's VOLUME /data is
          // masked by a read-only mount, so state written there fails instead of vanishing with the pod.
          for (const m of container.volumeMounts ?? []) {
            if (within(m.mountPath, dataDir!) || within(dataDir!, m.mountPath))
              expect(m.readOnly, `${m.mountPath} over the data directory ${dataDir}`).toBe(true);
          }
          expect(container.volumeMounts?.some((m) => m.mountPath === dataDir)).toBe(true);
          // Scratch is not the data directory.
          for (const p of SCRATCH) expect(within(dataDir!, p)).toBe(false);
        });
      }
    });
  }

  it('examples: the events Redis is its own instance, noeviction, AOF fsync’d, on a volume, big enough', () => {
    const objects = render(bin!, 'examples');
    const sts = ofKind<StatefulSet>(objects, 'StatefulSet').find((s) => s.metadata?.name === 'redis-events');
    expect(sts?.metadata?.namespace).toBe('etaserve-data');
    expect(sts?.spec?.replicas).toBe(1);
    const redis = sts!.spec!.template.spec!.containers[0]!;
    const args = [...(redis.command ?? []), ...(redis.args ?? [])];
    expect(redisArg(args, '--maxmemory-policy')).toBe('noeviction');
    expect(redisArg(args, '--appendonly')).toBe('yes');
    // `always` keeps the promise of docs/events.md (every acknowledged event survives a node crash).
    expect(redisArg(args, '--appendfsync')).toBe('always');
    const dir = redisArg(args, '--dir');
    const mount = redis.volumeMounts?.find((m) => m.mountPath === dir);
    expect(mount, `a volume at --dir ${dir}`).toBeDefined();
    expect(sts!.spec!.volumeClaimTemplates?.map((t) => t.metadata?.name)).toContain(mount!.name);
    const service = ofKind<Service>(objects, 'Service').find((s) => s.metadata?.name === 'redis-events');
    expect(service?.spec?.selector).toEqual(sts!.spec!.selector!.matchLabels);

    // maxmemory holds the stream's bound (events.maxDiskBytes, as prod sets it) plus the dedupe sets.
    const prod = moduleOf(render(bin!, 'prod'), 'gateway').env;
    const defaults = eventsConfigSchema.properties as unknown as Record<string, { default: number }>;
    const streamBound = Number(prod.ETASERVE_EVENTS_MAX_DISK_BYTES ?? defaults.maxDiskBytes!.default);
    const dedupe = 72 * Number(prod.ETASERVE_EVENTS_DEDUPE_MAX_IDS ?? defaults.dedupeMaxIds!.default);
    const maxmemory = redisBytes(redisArg(args, '--maxmemory') ?? '0');
    expect(maxmemory).toBeGreaterThan(streamBound + dedupe);

    // The cache's Redis Cluster stays the cache: it evicts, so it is never the log.
    const cache = ofKind<StatefulSet>(objects, 'StatefulSet').find(
      (s) => s.metadata?.name === 'redis-cluster',
    );
    const cacheArgs = cache!.spec!.template.spec!.containers[0]!.args ?? [];
    expect(redisArg(cacheArgs, '--maxmemory-policy')).not.toBe('noeviction');
  });

  it('dev: one pod, SQLite and the file log on a PersistentVolumeClaim (the single-node shape)', () => {
    const objects = render(bin!, 'dev');
    const deployment = ofKind<Deployment>(objects, 'Deployment')[0]!;
    expect(deployment.spec?.replicas).toBe(1);
    expect(deployment.spec?.strategy?.type).toBe('Recreate');
    expect(ofKind(objects, 'HorizontalPodAutoscaler')).toEqual([]);
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers[0]!;
    const dataDir = container.env?.find((e) => e.name === 'ETASERVE_DATA_DIR')?.value;
    const mount = container.volumeMounts?.find((m) => m.mountPath === dataDir);
    expect(pod.volumes?.find((v) => v.name === mount?.name)?.persistentVolumeClaim).toBeDefined();
    const env = ofKind<ConfigMap>(objects, 'ConfigMap').find((c) =>
      c.metadata?.name?.startsWith('etaserve-env'),
    )?.data;
    expect(env?.ETASERVE_STORE_DATABASE).toBe('sqlite');
    // No events Redis: `auto` is the file log under the data directory.
    expect(env?.ETASERVE_EVENTS_REDIS_URL).toBeUndefined();
    expect(env?.ETASERVE_EVENTS_BACKEND ?? 'auto').not.toBe('redis');
  });
});
