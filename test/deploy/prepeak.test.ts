import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CronJob } from 'kubernetes-types/batch/v1.js';
import type { HorizontalPodAutoscaler } from 'kubernetes-types/autoscaling/v2.js';
import type { PriorityClass } from 'kubernetes-types/scheduling/v1.js';
import type { Role } from 'kubernetes-types/rbac/v1.js';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScaledObject } from './keda-types.js';
import { AUTOSCALED, K8S, kubectl, ofKind, render, type K8sObject } from './manifests.js';

/** The pre-peak schedule is one ConfigMap; everything that acts on it must agree with it. */
const bin = kubectl();
const SCRIPT = path.join(K8S, 'components/prepeak/prepeak.mjs');
const PEAKS = ['lunch', 'dinner'] as const;

const schedule = (objects: K8sObject[]): Record<string, string> =>
  (
    objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === 'etaserve-prepeak-schedule',
    ) as unknown as {
      data: Record<string, string>;
    }
  ).data;

const minutesOfCron = (cron: string): number => {
  const [m, h] = cron.split(' ').map(Number);
  return h! * 60 + m!;
};
const minutesOfClock = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
};

describe.skipIf(!bin)('pre-peak scaling config', () => {
  it('the CronJobs run when the schedule says, in its time zone', () => {
    const prod = render(bin!, 'prod');
    const s = schedule(prod);
    const jobs = ofKind<CronJob>(prod, 'CronJob').filter((j) =>
      j.metadata?.name?.startsWith('etaserve-prepeak-'),
    );
    expect(jobs).toHaveLength(4);
    for (const peak of PEAKS) {
      for (const action of ['raise', 'lower']) {
        const job = jobs.find((j) => j.metadata?.name === `etaserve-prepeak-${peak}-${action}`);
        expect(job?.spec?.schedule).toBe(s[`${peak}-${action}`]);
        expect(job?.spec?.timeZone).toBe(s.timeZone);
        expect(job?.spec?.jobTemplate.spec?.template.spec?.containers[0]?.args).toEqual([
          '--peak',
          peak,
          '--action',
          action,
        ]);
      }
    }
  });

  it('raises two hours before each peak starts and lowers after it ends', () => {
    const s = schedule(render(bin!, 'prod'));
    for (const peak of PEAKS) {
      const [start, end] = s[`${peak}-peak`]!.split('-');
      expect(minutesOfClock(start!) - minutesOfCron(s[`${peak}-raise`]!), `${peak} raise`).toBe(120);
      expect(minutesOfCron(s[`${peak}-lower`]!)).toBeGreaterThanOrEqual(minutesOfClock(end!));
    }
  });

  it("off-peak counts equal the HPAs' minReplicas, and peak counts fit between them and maxReplicas", () => {
    const prod = render(bin!, 'prod');
    const s = schedule(prod);
    const hpas = ofKind<HorizontalPodAutoscaler>(prod, 'HorizontalPodAutoscaler');
    for (const m of AUTOSCALED) {
      const hpa = hpas.find(
        (h) => h.metadata?.namespace === `etaserve-${m}` && h.metadata.name === `etaserve-${m}`,
      );
      expect(Number(s[`${m}-offpeak`]), m).toBe(hpa?.spec?.minReplicas);
      for (const peak of PEAKS) {
        const v = Number(s[`${m}-${peak}`]);
        expect(v, `${m}-${peak}`).toBeGreaterThanOrEqual(hpa!.spec!.minReplicas!);
        expect(v, `${m}-${peak}`).toBeLessThanOrEqual(hpa!.spec!.maxReplicas);
      }
    }
    expect(s['balloon-offpeak']).toBe('0');
  });

  it('least privilege: get and patch on exactly the HPAs and the balloon scale, nothing cluster-wide', () => {
    const prod = render(bin!, 'prod');
    expect(prod.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')).toEqual([]);
    const grants = ofKind<Role>(prod, 'Role').flatMap((r) =>
      (r.rules ?? []).map((rule) => ({ ns: r.metadata?.namespace, ...rule })),
    );
    for (const g of grants) {
      expect(g.verbs.sort()).toEqual(['get', 'patch']);
      expect(g.resourceNames?.length).toBe(1);
    }
    const hpaGrants = grants.filter((g) => g.resources?.includes('horizontalpodautoscalers'));
    expect(hpaGrants.map((g) => `${g.ns}/${g.resourceNames![0]}`).sort()).toEqual(
      AUTOSCALED.map((m) => `etaserve-${m}/etaserve-${m}`).sort(),
    );
    const rest = grants.filter((g) => !g.resources?.includes('horizontalpodautoscalers'));
    expect(rest).toEqual([
      {
        ns: 'etaserve-ops',
        apiGroups: ['apps'],
        resources: ['deployments/scale'],
        resourceNames: ['etaserve-balloon'],
        verbs: ['get', 'patch'],
      },
    ]);
  });

  it('the balloon is preemptible and visible to the cluster autoscaler', () => {
    const prod = render(bin!, 'prod');
    const [pc] = ofKind<PriorityClass>(prod, 'PriorityClass');
    expect(pc!.value).toBeLessThan(0);
    // Below -10 the cluster autoscaler treats pods as expendable and would not add nodes for them.
    expect(pc!.value).toBeGreaterThanOrEqual(-10);
    expect(pc!.preemptionPolicy).toBe('Never');
    const balloon = ofKind<Deployment>(prod, 'Deployment').find(
      (d) => d.metadata?.name === 'etaserve-balloon',
    );
    expect(balloon?.spec?.template.spec?.priorityClassName).toBe(pc!.metadata?.name);
  });

  it('KEDA alternative: same schedule, same floors and ceilings', () => {
    const keda = render(bin!, 'keda');
    const prodHpas = ofKind<HorizontalPodAutoscaler>(render(bin!, 'prod'), 'HorizontalPodAutoscaler');
    const s = schedule(keda);
    const scaled = ofKind<ScaledObject>(keda, 'ScaledObject');
    expect(ofKind(keda, 'HorizontalPodAutoscaler')).toEqual([]);
    for (const m of [...AUTOSCALED, 'balloon']) {
      const so = scaled.find((x) => x.spec.scaleTargetRef.name === `etaserve-${m}`);
      expect(so, m).toBeDefined();
      const hpa = prodHpas.find((h) => h.metadata?.name === `etaserve-${m}`);
      if (hpa) {
        expect(so!.spec.minReplicaCount).toBe(hpa.spec?.minReplicas);
        expect(so!.spec.maxReplicaCount).toBe(hpa.spec?.maxReplicas);
      }
      for (const peak of PEAKS) {
        const t = so!.spec.triggers.find((x) => x.name === peak);
        expect(t?.type).toBe('cron');
        expect(t?.metadata).toEqual({
          timezone: s.timeZone,
          start: s[`${peak}-raise`],
          end: s[`${peak}-lower`],
          desiredReplicas: s[`${m}-${peak}`],
        });
      }
    }
  });
});

describe.skipIf(!bin)('prepeak.mjs against a fake API server', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  async function run(peak: string, action: string, data: Record<string, string>, maxReplicas = 50) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-prepeak-'));
    dirs.push(dir);
    const scheduleDir = path.join(dir, 'schedule');
    writeFileSync(path.join(dir, 'token'), 'test-token\n');
    await import('node:fs/promises').then((fs) => fs.mkdir(scheduleDir));
    for (const [k, v] of Object.entries(data)) writeFileSync(path.join(scheduleDir, k), v);
    const patches: Array<{ url: string; body: unknown; auth: string | undefined }> = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.method === 'PATCH') {
          expect(req.headers['content-type']).toBe('application/merge-patch+json');
          patches.push({ url: req.url!, body: JSON.parse(body), auth: req.headers.authorization });
        }
        res.setHeader('content-type', 'application/json');
        const spec = req.url!.endsWith('/scale') ? { replicas: 3 } : { minReplicas: 2, maxReplicas };
        res.end(JSON.stringify({ spec }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const result = await promisify(execFile)(
        process.execPath,
        [SCRIPT, '--peak', peak, '--action', action],
        {
          env: {
            PATH: process.env.PATH,
            PREPEAK_API_URL: `http://127.0.0.1:${port}`,
            PREPEAK_TOKEN_FILE: path.join(dir, 'token'),
            PREPEAK_SCHEDULE_DIR: scheduleDir,
            PREPEAK_NAMESPACE: 'etaserve-ops',
          },
        },
      ).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({
          code: e.code,
          stdout: e.stdout,
          stderr: e.stderr,
        }),
      );
      return { ...result, patches };
    } finally {
      server.close();
    }
  }

  const data = (): Record<string, string> => schedule(render(bin!, 'prod'));

  it('raise sets every HPA floor and the balloon to the peak counts, with the service-account token', async () => {
    const s = data();
    const r = await run('dinner', 'raise', s);
    expect(r.code, r.stderr).toBe(0);
    const hpa = (m: string) =>
      `/apis/autoscaling/v2/namespaces/etaserve-${m}/horizontalpodautoscalers/etaserve-${m}`;
    expect(r.patches.map((p) => [p.url, p.body])).toEqual([
      ...[...AUTOSCALED].sort().map((m) => [hpa(m), { spec: { minReplicas: Number(s[`${m}-dinner`]) } }]),
      [
        '/apis/apps/v1/namespaces/etaserve-ops/deployments/etaserve-balloon/scale',
        { spec: { replicas: Number(s['balloon-dinner']) } },
      ],
    ]);
    expect(new Set(r.patches.map((p) => p.auth))).toEqual(new Set(['Bearer test-token']));
  });

  it('lower puts the off-peak counts back, balloon first', async () => {
    const s = data();
    const r = await run('lunch', 'lower', s);
    expect(r.code, r.stderr).toBe(0);
    expect(r.patches[0]!.url).toMatch(/etaserve-balloon\/scale$/);
    expect(r.patches[0]!.body).toEqual({ spec: { replicas: 0 } });
    // The fake HPAs already have minReplicas 2: modules whose floor is 2 need no patch.
    const expected = AUTOSCALED.filter((m) => s[`${m}-offpeak`] !== '2');
    expect(
      r.patches
        .slice(1)
        .map((p) => p.url.split('/').pop())
        .sort(),
    ).toEqual(expected.map((m) => `etaserve-${m}`).sort());
  });

  it('caps a floor at maxReplicas instead of failing', async () => {
    const r = await run(
      'dinner',
      'raise',
      { 'dinner-raise': '0 16 * * *', 'predictor-offpeak': '3', 'predictor-dinner': '99' },
      20,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.patches.map((p) => p.body)).toEqual([{ spec: { minReplicas: 20 } }]);
  });

  it('refuses a bad schedule without touching anything', async () => {
    const r = await run('dinner', 'raise', {
      'dinner-raise': '0 16 * * *',
      'gateway-offpeak': '3',
      'gateway-dinner': 'ten',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/gateway-dinner must be a whole number/);
    expect(r.patches).toEqual([]);
    const unknown = await run('brunch', 'raise', { 'gateway-offpeak': '3' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown peak .*brunch/);
  });
});
