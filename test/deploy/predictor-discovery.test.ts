import type { ConfigMap, Service } from 'kubernetes-types/core/v1.js';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import { describe, expect, it } from 'vitest';
import { kubectl, ofKind, render, type KustomizationName } from './manifests.js';

/**
 * The gateway balances over predictor pods, not over one ClusterIP: its predictor URL names a headless Service of
 * the predictors and discovery is on, so each pod is a replica with its own breaker (docs/gateway-resilience.md).
 */
const bin = kubectl();
const OVERLAYS: KustomizationName[] = ['prod', 'prod-rps', 'keda'];

describe.skipIf(!bin)('the gateway discovers the predictor pods', () => {
  for (const overlay of OVERLAYS) {
    it(`${overlay}: the gateway's predictor URL is a headless Service of the predictor pods, with DNS discovery`, () => {
      const objects = render(bin!, overlay);
      const gateway = ofKind<Deployment>(objects, 'Deployment').find(
        (d) => d.metadata?.namespace === 'etaserve-gateway',
      );
      const envName = gateway?.spec?.template.spec?.containers[0]?.envFrom?.find((e) => e.configMapRef)
        ?.configMapRef?.name;
      const env = ofKind<ConfigMap>(objects, 'ConfigMap').find(
        (c) => c.metadata?.namespace === 'etaserve-gateway' && c.metadata?.name === envName,
      )?.data;
      expect(env?.ETASERVE_TOPOLOGY_PREDICTOR_DISCOVERY).toBe('dns');

      const urls = (env?.ETASERVE_TOPOLOGY_PREDICTOR_URLS ?? '').split(',');
      expect(urls).toHaveLength(1);
      const url = new URL(urls[0]!);
      const [name, namespace] = url.hostname.split('.');
      const service = ofKind<Service>(objects, 'Service').find(
        (s) => s.metadata?.name === name && s.metadata?.namespace === namespace,
      );
      expect(service, `${url.hostname} is a Service of this overlay`).toBeDefined();
      expect(service!.spec?.clusterIP).toBe('None');
      expect(service!.spec?.publishNotReadyAddresses ?? false).toBe(false);
      expect(service!.spec?.selector?.['app.kubernetes.io/component']).toBe('predictor');
      expect(service!.spec?.ports?.map((p) => String(p.port))).toContain(url.port);

      // The pods it selects are the predictor Deployment's, and they listen on the URL's port.
      const predictor = ofKind<Deployment>(objects, 'Deployment').find(
        (d) => d.metadata?.namespace === namespace,
      );
      const labels = predictor?.spec?.template.metadata?.labels ?? {};
      for (const [k, v] of Object.entries(service!.spec?.selector ?? {})) expect(labels[k]).toBe(v);
      const ports = predictor?.spec?.template.spec?.containers[0]?.ports?.map((p) => String(p.containerPort));
      expect(ports).toContain(url.port);
    });
  }
});
