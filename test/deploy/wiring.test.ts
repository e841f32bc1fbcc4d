import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, Service } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from 'kubernetes-types/networking/v1.js';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAppConfig, type AppConfig } from '../../src/app/config.js';
import { DEFINITIONS, remoteModules, resolveModules, type ModuleName } from '../../src/app/modules.js';
import { MODULES, kubectl, ofKind, render, type K8sObject, type KustomizationName } from './manifests.js';

/**
 * Each prod pod's configuration as its process reads it (the etaserve-config file, the etaserve-env ConfigMap, the
 * container's env), loaded by the application's own loader: it must load (every value valid), the process must
 * listen on the port its container declares and its Service targets, and every module it reaches over HTTP (what the
 * module table says it needs or uses, placed elsewhere by its topology URLs) must be a Service of the overlay that
 * selects that module's pods, allowed by both namespaces' NetworkPolicies. The gateways' orders URL, the orders
 * pod's store and geo URLs are checked here like every other wire.
 */
const bin = kubectl();
const OVERLAYS: KustomizationName[] = ['prod', 'prod-rps', 'keda'];

/** Where a module's topology URLs are, for each module that has a remote client. */
const URLS: Partial<Record<ModuleName, (c: AppConfig) => string[]>> = {
  store: (c) => [c.topology.storeUrl],
  geo: (c) => [c.topology.geoUrl],
  predictor: (c) => c.topology.predictorUrls,
  orders: (c) => [c.topology.ordersUrl],
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-wiring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Pod {
  module: string;
  namespace: string;
  deployment: Deployment;
  config: AppConfig;
  /** The container port named `http`. */
  port: number;
}

function podOf(objects: K8sObject[], module: string): Pod {
  const namespace = `etaserve-${module}`;
  const deployment = ofKind<Deployment>(objects, 'Deployment').find(
    (d) => d.metadata?.namespace === namespace && d.metadata.name === `etaserve-${module}`,
  )!;
  const spec = deployment.spec!.template.spec!;
  const container = spec.containers.find((c) => c.name === 'etaserve')!;
  const configMap = (name: string | undefined): ConfigMap | undefined =>
    ofKind<ConfigMap>(objects, 'ConfigMap').find(
      (c) => c.metadata?.namespace === namespace && c.metadata.name === name,
    );
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? [])
    if (from.configMapRef) Object.assign(env, configMap(from.configMapRef.name)?.data ?? {});
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  // The --config file: the mounted etaserve-config ConfigMap.
  const args = container.args ?? [];
  const configPath = args[args.indexOf('--config') + 1]!;
  const mount = container.volumeMounts!.find((m) => configPath.startsWith(`${m.mountPath}/`))!;
  const volume = spec.volumes!.find((v) => v.name === mount.name)!;
  const file = path.join(dir, `${module}-${path.basename(configPath)}`);
  writeFileSync(file, configMap(volume.configMap?.name)!.data![path.basename(configPath)]!);
  const config = loadAppConfig({ file, env });
  const port = container.ports?.find((p) => p.name === 'http')?.containerPort;
  return { module, namespace, deployment, config, port: port! };
}

/** The modules a process of `target` reaches over HTTP: what its modules need or use that the topology places elsewhere. */
function callees(target: string, config: AppConfig): ModuleName[] {
  const remote = remoteModules(config);
  const local = resolveModules([target], remote);
  const out = new Set<ModuleName>();
  for (const m of local) {
    const d = DEFINITIONS.get(m)!;
    for (const dep of [...d.needs, ...(d.uses ?? [])])
      if (remote.has(dep) && !local.includes(dep)) out.add(dep);
  }
  return [...out].sort();
}

const portMatches = (ports: NetworkPolicyPort[] | undefined, port: number): boolean =>
  !ports || ports.some((p) => p.port === port && (p.protocol ?? 'TCP') === 'TCP');
const namespaceOf = (peer: NetworkPolicyPeer): string | undefined =>
  peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];

/** Whether the policies of `from`'s namespace let its pods open TCP `port` to pods of namespace `to`. */
function egressAllowed(policies: NetworkPolicy[], from: Pod, to: string, port: number): boolean {
  const labels = from.deployment.spec!.template.metadata!.labels!;
  return policies.some(
    (p) =>
      p.metadata?.namespace === from.namespace &&
      Object.entries(p.spec?.podSelector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
      (p.spec?.egress ?? []).some(
        (r) => portMatches(r.ports, port) && (r.to ?? []).some((peer) => namespaceOf(peer) === to),
      ),
  );
}

/** Whether the policies of `to`'s namespace let pods of namespace `from` in on TCP `port`. */
function ingressAllowed(policies: NetworkPolicy[], from: string, to: Pod, port: number): boolean {
  const labels = to.deployment.spec!.template.metadata!.labels!;
  return policies.some(
    (p) =>
      p.metadata?.namespace === to.namespace &&
      Object.entries(p.spec?.podSelector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
      (p.spec?.ingress ?? []).some(
        (r) => portMatches(r.ports, port) && (!r.from || r.from.some((peer) => namespaceOf(peer) === from)),
      ),
  );
}

describe.skipIf(!bin)('every prod process is wired as its configuration says', () => {
  it('every module with a remote client has its topology URLs known to this test', () => {
    const withRemote = [...DEFINITIONS.values()].filter((d) => d.remote).map((d) => d.name);
    expect(withRemote.sort()).toEqual(Object.keys(URLS).sort());
  });

  for (const overlay of OVERLAYS) {
    describe(overlay, () => {
      const objects = (): K8sObject[] => render(bin!, overlay);
      const pods = (): Map<string, Pod> => new Map(MODULES.map((m) => [m, podOf(objects(), m)]));

      it('each process listens on the port its container declares, and its Service targets it', () => {
        for (const pod of pods().values()) {
          const listens = DEFINITIONS.get(pod.module as ModuleName)!.port!(pod.config);
          expect(listens, pod.module).toBe(pod.port);
          const service = ofKind<Service>(objects(), 'Service').find(
            (s) => s.metadata?.namespace === pod.namespace && s.metadata.name === `etaserve-${pod.module}`,
          );
          expect(
            service?.spec?.ports?.map((p) => p.targetPort),
            pod.module,
          ).toEqual(['http']);
        }
      });

      it('each module a process calls is a Service of its pods, allowed out of the caller and into the callee', () => {
        const all = pods();
        const policies = ofKind<NetworkPolicy>(objects(), 'NetworkPolicy');
        const services = ofKind<Service>(objects(), 'Service');
        const wires: string[] = [];
        const problems: string[] = [];
        for (const caller of all.values()) {
          for (const callee of callees(caller.module, caller.config)) {
            const target = all.get(callee);
            if (!target) {
              problems.push(`${caller.module} calls ${callee}, which has no Deployment`);
              continue;
            }
            for (const raw of URLS[callee]!(caller.config)) {
              const url = new URL(raw);
              const where = `${caller.module} -> ${callee} (${raw})`;
              wires.push(`${caller.module}->${callee}`);
              const [name, namespace, svc] = url.hostname.split('.');
              const service = services.find(
                (s) => s.metadata?.name === name && s.metadata.namespace === namespace,
              );
              if (svc !== 'svc' || namespace !== target.namespace || !service) {
                problems.push(`${where}: not a Service in ${target.namespace}`);
                continue;
              }
              const selected = Object.entries(service.spec?.selector ?? {}).every(
                ([k, v]) => target.deployment.spec!.template.metadata!.labels![k] === v,
              );
              if (!selected) problems.push(`${where}: the Service does not select the ${callee} pods`);
              const port = service.spec?.ports?.find((p) => String(p.port) === (url.port || '80'));
              if (!port || (port.targetPort !== 'http' && port.targetPort !== target.port))
                problems.push(`${where}: no Service port ${url.port} to the pods' http port`);
              if (!egressAllowed(policies, caller, target.namespace, target.port))
                problems.push(`${where}: egress to ${target.namespace}:${target.port} not allowed`);
              if (!ingressAllowed(policies, caller.namespace, target, target.port))
                problems.push(
                  `${where}: ${target.namespace} does not let ${caller.namespace} in on ${target.port}`,
                );
            }
          }
        }
        expect(problems).toEqual([]);
        // The wires this test exists for: the gateways reach orders, which reaches store and geo.
        expect(wires).toEqual(expect.arrayContaining(['gateway->orders', 'orders->store', 'orders->geo']));
      });
    });
  }
});
