import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import { describe, expect, it } from 'vitest';
import { KUSTOMIZATIONS, MODULES, PLAIN_MANIFESTS, kubectl, ofKind, readPlain, render } from './manifests.js';

/**
 * The image and the manifests never use a demo key (it exists only in the loopback demo shapes), and in production
 * every pod reads the internal token, and the gateway its admin key, from mounted Secrets (docs/security.md).
 */
const bin = kubectl();

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : [full];
  });
}

describe('no demo key in the image or the manifests', () => {
  it('no source file of deploy/ nor the Dockerfile names the demo key', () => {
    const offenders = [...files('deploy'), 'Dockerfile'].filter((f) =>
      /ETASERVE_DEMO_API_KEY|demoApiKey/.test(readFileSync(f, 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it.runIf(bin)('no rendered object sets it', () => {
    for (const name of Object.keys(KUSTOMIZATIONS) as Array<keyof typeof KUSTOMIZATIONS>) {
      const text = JSON.stringify(render(bin!, name));
      expect(text, name).not.toMatch(/DEMO_API_KEY/);
    }
  });
});

describe.runIf(bin)('prod secrets', () => {
  for (const overlay of ['prod', 'prod-rps', 'keda'] as const) {
    it(`${overlay}: every module reads the internal token from the Secret etaserve-internal`, () => {
      const deployments = ofKind<Deployment>(render(bin!, overlay), 'Deployment').filter((d) =>
        (MODULES as readonly string[]).includes(d.metadata?.labels?.['app.kubernetes.io/component'] ?? ''),
      );
      expect(deployments.map((d) => d.metadata!.labels!['app.kubernetes.io/component']).sort()).toEqual(
        [...MODULES].sort(),
      );
      const examples = PLAIN_MANIFESTS.flatMap(readPlain);
      for (const d of deployments) {
        const pod = d.spec!.template.spec!;
        const c = pod.containers[0]!;
        const where = `${d.metadata!.namespace}/${d.metadata!.name}`;
        // A file from a Secret volume: no token in a plain env value or a ConfigMap.
        expect(
          c.env?.some((e) => e.name === 'ETASERVE_INTERNAL_TOKEN'),
          where,
        ).toBe(false);
        const file = c.env?.find((e) => e.name === 'ETASERVE_INTERNAL_TOKEN_FILE')?.value;
        expect(file, where).toBe('/etc/etaserve-internal/token');
        const mount = c.volumeMounts?.find((m) => file!.startsWith(`${m.mountPath}/`));
        expect(mount?.readOnly, where).toBe(true);
        const volume = pod.volumes?.find((v) => v.name === mount!.name);
        expect(volume?.secret?.secretName, where).toBe('etaserve-internal');
        // The Secret's layout is documented for that namespace.
        expect(
          examples.some(
            (o) =>
              o.kind === 'Secret' &&
              o.metadata.name === 'etaserve-internal' &&
              o.metadata.namespace === d.metadata!.namespace,
          ),
          where,
        ).toBe(true);

        const isGateway = d.metadata!.labels!['app.kubernetes.io/component'] === 'gateway';
        const adminFile = c.env?.find((e) => e.name === 'ETASERVE_GATEWAY_ADMIN_KEY_FILE')?.value;
        if (!isGateway) {
          expect(adminFile, where).toBeUndefined();
          continue;
        }
        expect(adminFile, where).toBe('/etc/etaserve-admin/key');
        const adminMount = c.volumeMounts?.find((m) => adminFile!.startsWith(`${m.mountPath}/`));
        const adminVolume = pod.volumes?.find((v) => v.name === adminMount?.name);
        expect(adminVolume?.secret?.secretName, where).toBe('etaserve-admin-key');
      }
    });
  }
});
