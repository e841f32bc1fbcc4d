import { describe, expect, it } from 'vitest';
import { KUSTOMIZATIONS, id, kubectl, render, type KustomizationName } from './manifests.js';

/** Every overlay builds offline with `kubectl kustomize`, and no two objects collide. */
const bin = kubectl();

describe.skipIf(!bin)('kubectl kustomize', () => {
  for (const name of Object.keys(KUSTOMIZATIONS) as KustomizationName[]) {
    it(`builds ${KUSTOMIZATIONS[name]}`, () => {
      const objects = render(bin!, name);
      expect(objects.length).toBeGreaterThan(0);
      const ids = objects.map(id);
      expect(ids.filter((x, i) => ids.indexOf(x) !== i)).toEqual([]);
      // No placeholder survived the replacements (the CronJobs' never-matching 31 February, KEDA's marker).
      const text = JSON.stringify(objects);
      expect(text).not.toContain('0 0 31 2 *');
      expect(text).not.toContain('REPLACED_FROM_SCHEDULE');
    });
  }
});
