export type ModelLoadErrorCode = 'invalid_json' | 'unsupported_format' | 'invalid_artifact';

/** Why a model file was refused; `path` points at the offending part, e.g. `trees[3].left[7]`. */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';

  constructor(
    readonly code: ModelLoadErrorCode,
    message: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(path ? `${path}: ${message}` : message, options);
  }
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ModelLoadError };
