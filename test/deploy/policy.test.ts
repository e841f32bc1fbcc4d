import type { Container, PodSpec, Service } from 'kubernetes-types/core/v1.js';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { HorizontalPodAutoscaler } from 'kubernetes-types/autoscaling/v2.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { TARGET_MODULES } from '../../src/app/modules.js';
import {
  MODULES,
  PLAIN_MANIFESTS,
  SINGLE_REPLICA,
  id,
  kubectl,
  ofKind,
  readPlain,
  render,
  type K8sObject,
  type KustomizationName,
} from './manifests.js';

/** Policies every rendered manifest must meet; a failure names the object and the rule. */
const bin = kubectl();
const OVERLAYS: KustomizationName[] = ['dev', 'prod', 'prod-rps', 'keda', 'examples'];
/** The process keeps running this long after drainTimeoutMs before it exits by itself (src/platform/lifecycle.ts). */
const HARD_EXIT_SLACK_S = 2;
/** The image's USER (Dockerfile). */
const IMAGE_UID = 10001;

interface Workload {
  object: K8sObject;
  pod: PodSpec;
  podLabels: Record<string, string>;
}

function workloads(objects: K8sObject[]): Workload[] {
  const out: Workload[] = [];
  for (const o of objects) {
    const spec = o.spec as Record<string, any> | undefined;
    if (!spec) continue;
    const template = o.kind === 'CronJob' ? spec.jobTemplate?.spec?.template : spec.template;
    if (['Deployment', 'StatefulSet', 'Job', 'CronJob', 'DaemonSet'].includes(o.kind) && template) {
      out.push({ object: o, pod: template.spec as PodSpec, podLabels: template.metadata?.labels ?? {} });
    }
  }
  return out;
}

const isBalloon = (w: Workload): boolean => w.podLabels['app.kubernetes.io/component'] === 'balloon';
const isServer = (w: Workload): boolean => w.object.kind === 'Deployment' || w.object.kind === 'StatefulSet';
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  !!selector &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

function containerProblems(w: Workload, c: Container, init: boolean): string[] {
  const p: string[] = [];
  const where = `${id(w.object)} container ${c.name}`;
  for (const kind of ['requests', 'limits'] as const) {
    for (const r of ['cpu', 'memory']) if (!c.resources?.[kind]?.[r]) p.push(`${where}: no ${kind}.${r}`);
  }
  const podSc = w.pod.securityContext ?? {};
  const sc = c.securityContext ?? {};
  if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) p.push(`${where}: runAsNonRoot is not true`);
  const uid = sc.runAsUser ?? podSc.runAsUser;
  if (uid === undefined || uid === 0) p.push(`${where}: no non-zero runAsUser`);
  if (sc.readOnlyRootFilesystem !== true) p.push(`${where}: root filesystem is writable`);
  if (sc.allowPrivilegeEscalation !== false) p.push(`${where}: allowPrivilegeEscalation is not false`);
  if (!sc.capabilities?.drop?.includes('ALL')) p.push(`${where}: capabilities not dropped (ALL)`);
  const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
  if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') p.push(`${where}: no seccomp profile`);
  // Probes: long-running servers only. A Job's container runs to completion (nothing to route to or restart), and
  // the balloon's pause container has nothing to probe.
  if (!init && isServer(w) && !isBalloon(w)) {
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      if (!c[probe]) p.push(`${where}: no ${probe}`);
    }
  }
  return p;
}

describe.skipIf(!bin)('policy', () => {
  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      const objects = (): K8sObject[] => render(bin!, overlay);

      it('every container has requests, limits, a non-root locked-down security context, and servers have probes', () => {
        const problems = workloads(objects()).flatMap((w) => [
          ...(w.pod.initContainers ?? []).flatMap((c) => containerProblems(w, c, true)),
          ...w.pod.containers.flatMap((c) => containerProblems(w, c, false)),
        ]);
        expect(problems).toEqual([]);
      });

      it('every Deployment but the balloon has a PodDisruptionBudget, and an autoscaler unless it is a single owner', () => {
        const all = objects();
        const pdbs = ofKind<PodDisruptionBudget>(all, 'PodDisruptionBudget');
        const hpas = ofKind<HorizontalPodAutoscaler>(all, 'HorizontalPodAutoscaler');
        const scaled = ofKind<{
          metadata: { namespace: string };
          spec: { scaleTargetRef: { name: string } };
        }>(all, 'ScaledObject');
        const problems: string[] = [];
        for (const w of workloads(all).filter((x) => x.object.kind === 'Deployment')) {
          const ns = w.object.metadata.namespace;
          const name = w.object.metadata.name;
          const hasAutoscaler =
            hpas.some(
              (h) =>
                h.metadata?.namespace === ns &&
                h.spec?.scaleTargetRef.kind === 'Deployment' &&
                h.spec.scaleTargetRef.name === name,
            ) || scaled.some((s) => s.metadata.namespace === ns && s.spec.scaleTargetRef.name === name);
          if (isBalloon(w)) {
            // The balloon is scaled by the pre-peak jobs (or KEDA), never disrupted on purpose: it is disposable.
            continue;
          }
          if (
            !pdbs.some(
              (p) => p.metadata?.namespace === ns && matches(p.spec?.selector?.matchLabels, w.podLabels),
            )
          ) {
            problems.push(`${id(w.object)}: no PodDisruptionBudget selects its pods`);
          }
          // dev runs one pod on a ReadWriteOnce volume holding SQLite: it cannot scale, so it has no HPA on purpose.
          // A single owner of a state (orders) runs exactly one pod: an autoscaler would make it two.
          const single = (SINGLE_REPLICA as readonly string[]).includes(
            w.podLabels['app.kubernetes.io/component']!,
          );
          if (single && hasAutoscaler)
            problems.push(`${id(w.object)}: one replica by design, yet autoscaled`);
          if (!hasAutoscaler && !single && overlay !== 'dev')
            problems.push(`${id(w.object)}: no HPA or ScaledObject`);
        }
        expect(problems).toEqual([]);
      });

      it('Services and PDBs select exactly the pods of one workload, in its namespace', () => {
        const all = objects();
        const ws = workloads(all).filter(isServer);
        const problems: string[] = [];
        for (const s of ofKind<Service>(all, 'Service')) {
          const sel = s.spec?.selector;
          const hits = ws.filter(
            (w) => w.object.metadata.namespace === s.metadata?.namespace && matches(sel, w.podLabels),
          );
          if (hits.length !== 1)
            problems.push(
              `Service ${s.metadata?.namespace}/${s.metadata?.name} selects ${hits.length} workloads`,
            );
        }
        expect(problems).toEqual([]);
      });

      it('every namespace with pods denies by default, allows DNS, and has a NetworkPolicy', () => {
        const all = objects();
        const policies = ofKind<NetworkPolicy>(all, 'NetworkPolicy');
        const namespaces = new Set(workloads(all).map((w) => w.object.metadata.namespace!));
        const problems: string[] = [];
        for (const ns of namespaces) {
          const here = policies.filter((p) => p.metadata?.namespace === ns);
          const denyAll = here.some(
            (p) =>
              Object.keys(p.spec?.podSelector?.matchLabels ?? {}).length === 0 &&
              p.spec?.policyTypes?.includes('Ingress') &&
              p.spec.policyTypes.includes('Egress') &&
              !p.spec.ingress &&
              !p.spec.egress,
          );
          const dns = here.some((p) =>
            p.spec?.egress?.some((e) => e.ports?.some((port) => port.port === 53)),
          );
          if (!denyAll) problems.push(`${ns}: no default-deny NetworkPolicy`);
          if (!dns) problems.push(`${ns}: DNS egress not allowed`);
        }
        expect(namespaces.size).toBeGreaterThan(0);
        expect(problems).toEqual([]);
      });

      it('the drain fits in the grace period: preStop + drainTimeoutMs + hard-exit slack <= terminationGracePeriodSeconds', () => {
        const all = objects();
        const problems: string[] = [];
        for (const w of workloads(all).filter((x) => x.object.kind === 'Deployment' && !isBalloon(x))) {
          const c = w.pod.containers.find((x) => x.name === 'etaserve');
          if (!c) continue;
          const configName = w.pod.volumes?.find((v) => v.name === 'config')?.configMap?.name;
          const cm = all.find(
            (o) =>
              o.kind === 'ConfigMap' &&
              o.metadata.name === configName &&
              o.metadata.namespace === w.object.metadata.namespace,
          ) as (K8sObject & { data: Record<string, string> }) | undefined;
          const config = parseYaml(cm?.data['config.yaml'] ?? '{}') as {
            platform?: { drainTimeoutMs?: number };
          };
          const drainS = (config.platform?.drainTimeoutMs ?? 10_000) / 1000;
          const sleep = c.lifecycle?.preStop?.exec?.command;
          const preStopS = sleep?.[0] === 'sleep' ? Number(sleep[1]) : NaN;
          const grace = w.pod.terminationGracePeriodSeconds ?? 30;
          if (!(preStopS > 0)) problems.push(`${id(w.object)}: no preStop sleep`);
          if (!(preStopS + drainS + HARD_EXIT_SLACK_S <= grace)) {
            problems.push(
              `${id(w.object)}: ${preStopS}s preStop + ${drainS}s drain + ${HARD_EXIT_SLACK_S}s > ${grace}s grace`,
            );
          }
          // Readiness must reflect model load and drain; liveness and startup must not (a reload is no restart).
          if (c.readinessProbe?.httpGet?.path !== '/readyz')
            problems.push(`${id(w.object)}: readiness is not /readyz`);
          if (c.livenessProbe?.httpGet?.path !== '/healthz')
            problems.push(`${id(w.object)}: liveness is not /healthz`);
          if (c.startupProbe?.httpGet?.path !== '/healthz')
            problems.push(`${id(w.object)}: startup is not /healthz`);
          const uid = c.securityContext?.runAsUser ?? w.pod.securityContext?.runAsUser;
          if (uid !== IMAGE_UID)
            problems.push(`${id(w.object)}: runs as ${uid}, the image's user is ${IMAGE_UID}`);
        }
        expect(problems).toEqual([]);
      });

      it('every ConfigMap and Secret a pod reads exists (Secrets: rendered or in a *.example.yaml)', () => {
        const all = [...objects(), ...PLAIN_MANIFESTS.flatMap(readPlain)];
        const exists = (kind: string, ns: string | undefined, name: string | undefined): boolean =>
          all.some((o) => o.kind === kind && o.metadata.namespace === ns && o.metadata.name === name);
        const problems: string[] = [];
        for (const w of workloads(objects())) {
          const ns = w.object.metadata.namespace;
          for (const c of [...(w.pod.initContainers ?? []), ...w.pod.containers]) {
            for (const from of c.envFrom ?? []) {
              if (from.configMapRef && !exists('ConfigMap', ns, from.configMapRef.name))
                problems.push(`${id(w.object)}: ConfigMap ${from.configMapRef.name}`);
              // An optional Secret (dev: SQLite needs no database URL) may be absent.
              if (from.secretRef && !from.secretRef.optional && !exists('Secret', ns, from.secretRef.name))
                problems.push(`${id(w.object)}: Secret ${from.secretRef.name}`);
            }
          }
          for (const v of w.pod.volumes ?? []) {
            if (v.configMap && !exists('ConfigMap', ns, v.configMap.name))
              problems.push(`${id(w.object)}: ConfigMap ${v.configMap.name}`);
            if (v.secret && !v.secret.optional && !exists('Secret', ns, v.secret.secretName))
              problems.push(`${id(w.object)}: Secret ${v.secret.secretName}`);
            if (
              v.persistentVolumeClaim &&
              !exists('PersistentVolumeClaim', ns, v.persistentVolumeClaim.claimName)
            ) {
              problems.push(`${id(w.object)}: PVC ${v.persistentVolumeClaim.claimName}`);
            }
          }
        }
        expect(problems).toEqual([]);
      });
    });
  }

  describe('prod network: only the gateway is reachable from outside; each module accepts only its callers', () => {
    const CALLERS: Record<(typeof MODULES)[number], string[]> = {
      gateway: ['*'],
      predictor: ['gateway'],
      store: ['gateway', 'orders', 'pipeline', 'predictor'],
      geo: ['gateway', 'orders', 'pipeline', 'predictor'],
      pipeline: ['gateway'],
      orders: ['gateway'],
    };
    // `internet`: public addresses only (the webhooks' rule, checked below); no module may reach every address.
    const CALLEES: Record<(typeof MODULES)[number], string[]> = {
      gateway: ['geo', 'orders', 'pipeline', 'predictor', 'store'],
      predictor: ['geo', 'store'],
      store: [],
      geo: [],
      pipeline: ['geo', 'store'],
      orders: ['geo', 'internet', 'store'],
    };
    /** What a customer's webhook URL must never reach: the cluster's and every private or link-local range. */
    const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16'];
    const PRIVATE_V6 = ['fc00::/7', 'fe80::/10', '::ffff:0:0/96', '64:ff9b::/96'];
    /** The whole internet of one address family, with every private block of that family excepted. */
    const internet = (block: { cidr: string; except?: string[] }): boolean => {
      const expected = block.cidr === '0.0.0.0/0' ? PRIVATE : block.cidr === '::/0' ? PRIVATE_V6 : undefined;
      return (
        expected !== undefined &&
        JSON.stringify([...(block.except ?? [])].sort()) === JSON.stringify([...expected].sort())
      );
    };
    const sources = (policies: NetworkPolicy[], ns: string): string[] => {
      const found = new Set<string>();
      for (const p of policies.filter((x) => x.metadata?.namespace === ns)) {
        for (const rule of p.spec?.ingress ?? []) {
          if (!rule.from || rule.from.length === 0) found.add('*');
          for (const peer of rule.from ?? []) {
            if (peer.ipBlock) found.add('*');
            const name = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
            if (name === 'monitoring') continue; // Prometheus scrapes every module
            if (name?.startsWith('etaserve-')) found.add(name.slice('etaserve-'.length));
            else found.add(`unexpected:${JSON.stringify(peer)}`);
          }
        }
      }
      return [...found].sort();
    };
    const destinations = (policies: NetworkPolicy[], ns: string): string[] => {
      const found = new Set<string>();
      for (const p of policies.filter((x) => x.metadata?.namespace === ns)) {
        for (const rule of p.spec?.egress ?? []) {
          for (const peer of rule.to ?? []) {
            const name = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
            if (name?.startsWith('etaserve-') && name !== 'etaserve-data')
              found.add(name.slice('etaserve-'.length));
            if (peer.ipBlock)
              found.add(internet(peer.ipBlock) ? 'internet' : `ipBlock:${JSON.stringify(peer.ipBlock)}`);
          }
          if (!rule.to) found.add('*');
        }
      }
      return [...found].sort();
    };

    for (const m of MODULES) {
      it(`${m} accepts ${CALLERS[m].join(', ')} and calls ${CALLEES[m].join(', ') || 'no module'}`, () => {
        const policies = ofKind<NetworkPolicy>(render(bin!, 'prod'), 'NetworkPolicy');
        expect(sources(policies, `etaserve-${m}`)).toEqual([...CALLERS[m]].sort());
        expect(destinations(policies, `etaserve-${m}`)).toEqual([...CALLEES[m]].sort());
      });
    }

    it('orders reaches the internet on TCP 443 only (webhooks), over IPv4 and IPv6, never a private or cluster address', () => {
      const policies = ofKind<NetworkPolicy>(render(bin!, 'prod'), 'NetworkPolicy');
      const rules = policies
        .filter((p) => p.metadata?.namespace === 'etaserve-orders')
        .flatMap((p) => p.spec?.egress ?? [])
        .filter((r) => r.to?.some((peer) => peer.ipBlock));
      expect(rules).toEqual([
        {
          to: [
            { ipBlock: { cidr: '0.0.0.0/0', except: PRIVATE } },
            { ipBlock: { cidr: '::/0', except: PRIVATE_V6 } },
          ],
          ports: [{ protocol: 'TCP', port: 443 }],
        },
      ]);
      // No other namespace of prod has an address-based rule at all.
      const elsewhere = policies.filter(
        (p) =>
          p.metadata?.namespace !== 'etaserve-orders' &&
          [
            ...(p.spec?.egress ?? []).flatMap((r) => r.to ?? []),
            ...(p.spec?.ingress ?? []).flatMap((r) => r.from ?? []),
          ].some((peer) => peer.ipBlock),
      );
      expect(elsewhere.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)).toEqual([]);
    });
  });

  it('prod: one Deployment per runnable target of the module table, each in its own namespace, running it', () => {
    expect([...MODULES].sort()).toEqual([...TARGET_MODULES].sort());
    const deployments = ofKind<Deployment>(render(bin!, 'prod'), 'Deployment');
    for (const m of MODULES) {
      const d = deployments.find((x) => x.metadata?.namespace === `etaserve-${m}`);
      expect(d?.metadata?.name).toBe(`etaserve-${m}`);
      expect(d?.spec?.template.spec?.containers[0]?.args?.slice(0, 3)).toEqual(['start', '--target', m]);
      if ((SINGLE_REPLICA as readonly string[]).includes(m)) {
        // The single owner: one pod, and the old one gone before the new one starts (never two owners).
        expect(d?.spec?.replicas, m).toBe(1);
        expect(d?.spec?.strategy, m).toEqual({ type: 'Recreate' });
      } else {
        expect(d?.spec?.replicas, 'the HPA owns replicas').toBeUndefined();
      }
    }
  });

  it('dev: a single pod running every module on a PersistentVolumeClaim', () => {
    const [d] = ofKind<Deployment>(render(bin!, 'dev'), 'Deployment');
    expect(d?.spec?.replicas).toBe(1);
    expect(d?.spec?.strategy?.type).toBe('Recreate');
    expect(d?.spec?.template.spec?.containers[0]?.args?.slice(0, 3)).toEqual(['start', '--target', 'all']);
    const data = d?.spec?.template.spec?.volumes?.find((v) => v.name === 'data');
    expect(data?.persistentVolumeClaim?.claimName).toBeTruthy();
    expect(data?.emptyDir).toBeUndefined();
  });
});
