import type { ModelArtifact } from './artifact.js';
import type { Result } from '../errors.js';
import { acceptArtifact } from './load.js';
import { portableOf, type PortableModel } from '../inference/model.js';

/** The same acceptance as `loadModel` (etaserve artifact or XGBoost JSON, fully validated), without an explainer. */
export function compileModel(json: unknown): Result<{ portable: PortableModel; artifact: ModelArtifact }> {
  const accepted = acceptArtifact(json);
  if (!accepted.ok) return accepted;
  return { ok: true, value: { artifact: accepted.value, portable: portableOf(accepted.value) } };
}

/**
 * The buffers under a portable model's typed arrays, nested ones included, each once (two arrays may share one):
 * the transfer list that moves the compiled model instead of copying it.
 */
export function portableBuffers(model: PortableModel): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const visit = (v: unknown): void => {
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) buffers.add(v.buffer);
    } else if (typeof v === 'object' && v !== null) for (const x of Object.values(v)) visit(x);
  };
  visit(model.compiled);
  return [...buffers];
}
