import type { Static } from 'typebox';
import { EtaError, type HttpServer, type Routes } from '../platform/index.js';
import type { ModelRuntime } from './model-runtime.js';
import { ModelParams, OipInferBody, OipInferResponse, OipModelMetadata } from './schemas.js';
import type { Model } from '../model/index.js';

type Tensor = OipInferBody['inputs'][number];

/** Most rows one inference request may ask for: a bound on what a request can make the process allocate. */
export const OIP_MAX_ROWS = 10_000;

const INTEGER_TYPES = new Set(['INT32', 'INT64']);

/** The values of a tensor, flat (row-major); nested rows are flattened one level. */
function flatten(t: Tensor): Array<number | null> {
  return t.data.some(Array.isArray) ? t.data.flat() : (t.data as Array<number | null>);
}

/**
 * Checks every input against its own data before anything is allocated: rows within OIP_MAX_ROWS, the shape's
 * element count equal to the number of values (so `shape: [1e9, 12]` with three values is a 400, not gigabytes),
 * and integer datatypes holding integers. Returns each input's values, flat.
 */
function checkTensors(inputs: Tensor[]): Array<Array<number | null>> {
  return inputs.map((t, i) => {
    const rows = t.shape[0]!;
    if (rows > OIP_MAX_ROWS)
      throw new EtaError(
        'bad_request',
        `input ${t.name} has ${rows} rows; at most ${OIP_MAX_ROWS} per request`,
        {
          field: `inputs.${i}.shape`,
        },
      );
    const elements = t.shape.reduce((n, d) => n * d, 1);
    // Counted before flattening: a nested row may not hide values from the count.
    let count = 0;
    for (const v of t.data) count += Array.isArray(v) ? v.length : 1;
    if (count !== elements) {
      throw new EtaError(
        'bad_request',
        `input ${t.name} holds ${count} values; shape [${t.shape.join(', ')}] says ${elements}`,
        { field: `inputs.${i}.data` },
      );
    }
    const data = flatten(t);
    if (INTEGER_TYPES.has(t.datatype) && !data.every((v) => v === null || Number.isInteger(v))) {
      throw new EtaError('bad_request', `input ${t.name} is ${t.datatype} but holds a fraction`, {
        field: `inputs.${i}.data`,
      });
    }
    return data;
  });
}

/**
 * Rows from an Open Inference Protocol request: either one [N, F] tensor in the model's feature order, or one [N]
 * tensor per feature, named after it. `null` is a missing value.
 */
export function rowsFromTensors(model: Model, inputs: Tensor[]): { rows: Float64Array; n: number } {
  const width = model.spec.length;
  const values = checkTensors(inputs);
  if (inputs.length === 1 && (inputs[0]!.shape.length === 2 || width === 1)) {
    const t = inputs[0]!;
    const n = t.shape[0]!;
    const cols = t.shape.length === 2 ? t.shape[1]! : 1;
    if (cols !== width)
      throw new EtaError('bad_request', `input ${t.name} has ${cols} columns; the model takes ${width}`, {
        field: 'inputs.0.shape',
      });
    const data = values[0]!;
    const rows = new Float64Array(n * width);
    for (let i = 0; i < data.length; i++) rows[i] = data[i] ?? Number.NaN;
    return { rows, n };
  }
  const byName = new Map(inputs.map((t, i) => [t.name, i]));
  const n = inputs[0]!.shape[0]!;
  inputs.forEach((t, i) => {
    if (t.shape.length !== 1 || t.shape[0] !== n)
      throw new EtaError(
        'bad_request',
        `input ${t.name} has shape [${t.shape.join(', ')}]; expected [${n}]`,
        {
          field: `inputs.${i}.shape`,
        },
      );
  });
  const found = model.spec.map((feature) => {
    const i = byName.get(feature.name);
    if (i === undefined)
      throw new EtaError('bad_request', `no input named ${feature.name}`, { field: 'inputs' });
    return values[i]!;
  });
  const rows = new Float64Array(n * width);
  found.forEach((data, f) => {
    for (let r = 0; r < n; r++) rows[r * width + f] = data[r] ?? Number.NaN;
  });
  return { rows, n };
}

/**
 * What the model's inputs mean, for the metadata's `parameters`. The listed input stays one [-1, F] tensor
 * "input-0" (the layout of tree-model servers such as Triton's FIL backend, and the one clients such as tritonclient
 * build from metadata, one tensor per listed input); its columns are named here, in order, from the loaded model's
 * own feature spec (the feature definition it was trained with). OIP parameter values are scalars, hence the
 * comma-separated lists. Categorical features take the index of their category.
 */
export function featureParameters(model: Pick<Model, 'spec'>): Record<string, string | number> & {
  feature_names: string;
  feature_count: number;
  input_layout: string;
} {
  const out: Record<string, string | number> = {};
  for (const f of model.spec) {
    if (f.type === 'categorical' && f.categories) out[`${f.name}_categories`] = f.categories.join(',');
  }
  return {
    feature_names: model.spec.map((f) => f.name).join(','),
    feature_count: model.spec.length,
    input_layout: `one [N, ${model.spec.length}] FP64 tensor input-0 with the columns of feature_names in order, or one [N] tensor per feature named after it; null is a missing value`,
    ...out,
  };
}

export function oipRoutes(runtime: ModelRuntime, modelName: string): Routes {
  const plugin = async (app: HttpServer): Promise<void> => {
    const resolve = (params: ModelParams): NonNullable<ModelRuntime['active']> => {
      const active = runtime.active;
      if (params.name !== modelName)
        throw new EtaError('model_not_found', `no model named ${params.name}`, { field: 'name' });
      if (!active) throw new EtaError('model_not_loaded', 'no model is loaded yet');
      if (params.version !== undefined && params.version !== active.version) {
        throw new EtaError(
          'model_not_found',
          `version ${params.version} of ${params.name} is not loaded (serving ${active.version})`,
          { field: 'version' },
        );
      }
      return active;
    };

    app.get('/v2/health/live', async () => ({ live: true }));
    app.get('/v2/health/ready', async (_req, reply) => {
      const ready = runtime.active !== undefined;
      return reply.code(ready ? 200 : 503).send({ ready });
    });

    const metadata = { schema: { params: ModelParams, response: { 200: OipModelMetadata } } };
    const describe = async (req: { params: ModelParams }): Promise<OipModelMetadataT> => {
      const { model, version } = resolve(req.params);
      return {
        name: modelName,
        versions: [version],
        platform: 'etaserve-gbdt',
        inputs: [{ name: 'input-0', datatype: 'FP64', shape: [-1, model.spec.length] }],
        outputs: model.outputNames.map((name) => ({ name, datatype: 'FP64', shape: [-1] })),
        parameters: featureParameters(model),
      };
    };
    app.get('/v2/models/:name', metadata, describe);
    app.get('/v2/models/:name/versions/:version', metadata, describe);

    const ready = async (req: { params: ModelParams }): Promise<{ name: string; ready: boolean }> => {
      resolve(req.params);
      return { name: req.params.name, ready: true };
    };
    app.get('/v2/models/:name/ready', { schema: { params: ModelParams } }, ready);
    app.get('/v2/models/:name/versions/:version/ready', { schema: { params: ModelParams } }, ready);

    const infer = {
      schema: { params: ModelParams, body: OipInferBody, response: { 200: OipInferResponse } },
    };
    const handler = async (req: { params: ModelParams; body: OipInferBody }): Promise<OipInferResponseT> => {
      const { model, version } = resolve(req.params);
      const { rows, n } = rowsFromTensors(model, req.body.inputs);
      const width = model.outputNames.length;
      const out = new Float64Array(n * width);
      if (n === 1) model.predict(rows, out);
      else model.predictBatch(rows, n, out);
      const wanted = req.body.outputs?.map((o) => o.name) ?? model.outputNames;
      const outputs = wanted.map((name) => {
        const k = model.outputNames.indexOf(name);
        if (k < 0) throw new EtaError('bad_request', `the model has no output ${name}`, { field: 'outputs' });
        const data = new Array<number>(n);
        for (let r = 0; r < n; r++) data[r] = out[r * width + k]!;
        return { name, shape: [n], datatype: 'FP64', data };
      });
      return {
        model_name: modelName,
        model_version: version,
        ...(req.body.id ? { id: req.body.id } : {}),
        outputs,
      };
    };
    app.post('/v2/models/:name/infer', infer, handler);
    app.post('/v2/models/:name/versions/:version/infer', infer, handler);
  };
  return plugin;
}

type OipModelMetadataT = Static<typeof OipModelMetadata>;
type OipInferResponseT = Static<typeof OipInferResponse>;
