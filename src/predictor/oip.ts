import type { FastifyPluginAsync } from 'fastify';
import type { Static } from 'typebox';
import { EtaError, type HttpServer } from '../platform/index.js';
import type { ModelRuntime } from './model-runtime.js';
import { ModelParams, OipInferBody, OipInferResponse, OipModelMetadata } from './schemas.js';
import type { Model } from '../model/index.js';

type Tensor = OipInferBody['inputs'][number];

/**
 * Rows from an Open Inference Protocol request: either one [N, F] tensor in the model's feature order, or one [N]
 * tensor per feature, named after it. `null` is a missing value.
 */
export function rowsFromTensors(model: Model, inputs: Tensor[]): { rows: Float64Array; n: number } {
  const width = model.spec.length;
  const flat = (t: Tensor): Array<number | null> =>
    t.data.length > 0 && Array.isArray(t.data[0])
      ? (t.data as Array<Array<number | null>>).flat()
      : (t.data as Array<number | null>);
  if (inputs.length === 1 && (inputs[0]!.shape.length === 2 || width === 1)) {
    const t = inputs[0]!;
    const n = t.shape[0]!;
    const cols = t.shape.length === 2 ? t.shape[1]! : 1;
    if (cols !== width)
      throw new EtaError('bad_request', `input ${t.name} has ${cols} columns; the model takes ${width}`, {
        field: 'inputs.0.shape',
      });
    const data = flat(t);
    if (data.length !== n * width)
      throw new EtaError(
        'bad_request',
        `input ${t.name} holds ${data.length} values; shape says ${n * width}`,
        { field: 'inputs.0.data' },
      );
    const rows = new Float64Array(n * width);
    for (let i = 0; i < data.length; i++) rows[i] = data[i] ?? Number.NaN;
    return { rows, n };
  }
  const byName = new Map(inputs.map((t, i) => [t.name, { t, i }]));
  const n = inputs[0]!.shape[0]!;
  const rows = new Float64Array(n * width);
  model.spec.forEach((feature, f) => {
    const found = byName.get(feature.name);
    if (!found) throw new EtaError('bad_request', `no input named ${feature.name}`, { field: 'inputs' });
    const data = flat(found.t);
    if (data.length !== n)
      throw new EtaError('bad_request', `input ${feature.name} holds ${data.length} values, expected ${n}`, {
        field: `inputs.${found.i}.data`,
      });
    for (let r = 0; r < n; r++) rows[r * width + f] = data[r] ?? Number.NaN;
  });
  return { rows, n };
}

export function oipRoutes(runtime: ModelRuntime, modelName: string): FastifyPluginAsync {
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
  return plugin as unknown as FastifyPluginAsync;
}

type OipModelMetadataT = Static<typeof OipModelMetadata>;
type OipInferResponseT = Static<typeof OipInferResponse>;
