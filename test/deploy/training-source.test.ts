import type { CronJob } from 'kubernetes-types/batch/v1.js';
import type { Container, PodSpec } from 'kubernetes-types/core/v1.js';
import { describe, expect, it } from 'vitest';
import { id, kubectl, ofKind, render, type K8sObject, type KustomizationName } from './manifests.js';

/** Production trains on the lake only: nothing in a production manifest may ask for simulated history. */
const bin = kubectl();
const PROD: KustomizationName[] = ['prod', 'prod-rps', 'keda'];
const SIMULATED_FLAGS = ['--days', '--stores', '--orders-per-day', '--seed', 'simulate'];

function podOf(o: K8sObject): PodSpec | undefined {
  const spec = o.spec as
    { template?: { spec?: PodSpec }; jobTemplate?: { spec?: { template?: { spec?: PodSpec } } } } | undefined;
  return o.kind === 'CronJob' ? spec?.jobTemplate?.spec?.template?.spec : spec?.template?.spec;
}

const containersOf = (pod: PodSpec): Container[] => [...(pod.initContainers ?? []), ...pod.containers];

describe.skipIf(!bin)('the training data source in the manifests', () => {
  it.each(PROD)('%s: no container, env or ConfigMap selects simulated training data', (name) => {
    const problems: string[] = [];
    for (const o of render(bin!, name)) {
      if (o.kind === 'ConfigMap') {
        const data = (o as unknown as { data?: Record<string, string> }).data ?? {};
        for (const [key, value] of Object.entries(data))
          if (
            /ETASERVE_PIPELINE_SOURCE/.test(key) ? value.trim() !== 'lake' : /source:\s*simulated/.test(value)
          )
            problems.push(`${id(o)} ${key}: ${value.trim()}`);
      }
      const pod = podOf(o);
      if (!pod) continue;
      for (const c of containersOf(pod)) {
        for (const e of c.env ?? [])
          if (e.name === 'ETASERVE_PIPELINE_SOURCE' && e.value !== 'lake')
            problems.push(`${id(o)} ${c.name}: ETASERVE_PIPELINE_SOURCE=${e.value ?? '(from a reference)'}`);
        const args = [...(c.command ?? []), ...(c.args ?? [])];
        for (const flag of SIMULATED_FLAGS)
          if (args.includes(flag)) problems.push(`${id(o)} ${c.name}: ${args.join(' ')}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it.each(PROD)('%s: the training CronJob runs etaserve train on the lake, explicitly', (name) => {
    const jobs = ofKind<CronJob>(render(bin!, name), 'CronJob').filter((j) =>
      containersOf(j.spec!.jobTemplate.spec!.template.spec!).some((c) => c.args?.[0] === 'train'),
    );
    expect(jobs.map((j) => j.metadata!.name)).toEqual(['etaserve-train']);
    const containers = containersOf(jobs[0]!.spec!.jobTemplate.spec!.template.spec!);
    // One step: `train` applies the promotion policy itself (the same as the schedule and the admin API).
    expect(containers.map((c) => c.args?.slice(0, 2))).toEqual([['train', '--lake']]);
    expect(containers[0]!.env).toContainEqual({ name: 'ETASERVE_PIPELINE_SOURCE', value: 'lake' });
    // It reads the lake the pipeline writes: the same claim.
    const volumes = jobs[0]!.spec!.jobTemplate.spec!.template.spec!.volumes ?? [];
    expect(volumes.find((v) => v.name === 'lake')?.persistentVolumeClaim?.claimName).toBe('etaserve-lake');
  });
});
