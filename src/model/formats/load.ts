import type { ModelArtifact } from './artifact.js';
import { ModelLoadError, type Result } from '../errors.js';
import { modelFromArtifact, type Model } from '../inference/model.js';
import { validateArtifact } from './validate.js';
import { fromXgboost, isXgboostJson } from './xgboost.js';

export type LoadResult = Result<Model>;

/** Accepts an etaserve artifact or an XGBoost JSON model; anything else is refused with a reason. */
export function loadModel(json: unknown): LoadResult {
  const accepted = acceptArtifact(json);
  return accepted.ok ? { ok: true, value: modelFromArtifact(accepted.value) } : accepted;
}

/** The validated artifact behind `loadModel`, converted from XGBoost JSON when needed. */
export function acceptArtifact(json: unknown): Result<ModelArtifact> {
  let artifact: unknown = json;
  if (isXgboostJson(json)) {
    const converted = fromXgboost(json);
    if (!converted.ok) return converted;
    artifact = converted.value;
  } else if (typeof json !== 'object' || json === null || !('format' in json)) {
    return {
      ok: false,
      error: new ModelLoadError(
        'unsupported_format',
        'neither an etaserve model artifact nor an XGBoost JSON model',
      ),
    };
  }
  const checked = validateArtifact(artifact);
  return checked.ok ? { ok: true, value: checked.value as ModelArtifact } : checked;
}

/**
 * XGBoost writes NaN (categorical split conditions) and Infinity as bare tokens, which JSON does not
 * allow; outside strings they become null, which the XGBoost importer reads as NaN.
 */
function withoutNonFiniteTokens(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|-?\bInfinity\b|\bNaN\b/g, (m) => (m.startsWith('"') ? m : 'null'));
}

export function parseModel(text: string): LoadResult {
  let json: unknown;
  try {
    try {
      json = JSON.parse(text);
    } catch (e) {
      if (!/NaN|Infinity/.test(text)) throw e;
      json = JSON.parse(withoutNonFiniteTokens(text));
    }
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    return {
      ok: false,
      error: new ModelLoadError('invalid_json', `not valid JSON (${reason})`, undefined, { cause: e }),
    };
  }
  return loadModel(json);
}
