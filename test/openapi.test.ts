import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from '../src/features/index.js';
import { toJsonSchema2020 } from '../src/gateway/docs.js';
import { DEMO_KEY, startAll, type Platform } from './support/processes.js';
import { ensureTemplate } from './support/template.js';
import { parisEvening } from './support/times.js';

/**
 * The API document is for tools: a standard validator accepts it, its schemas are JSON Schema 2020-12 (what
 * OpenAPI 3.1 says they are), and a client generated from it compiles and calls the running platform.
 */
let platform: Platform;
let doc: Record<string, unknown>;
// Inside the repo (git-ignored .tmp), so tsc finds this project's TypeScript and nothing else is needed.
mkdirSync(path.resolve('.tmp'), { recursive: true });
const work = mkdtempSync(path.resolve('.tmp/openapi-client-'));

beforeAll(async () => {
  await ensureTemplate();
  platform = await startAll();
  const res = await fetch(`${platform.url}/docs/json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Record<string, unknown>;
}, 180_000);
afterAll(async () => {
  await platform?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Every Schema Object of a dereferenced document: components, parameters, request and response bodies. */
function schemasOf(api: any): Array<{ at: string; schema: object }> {
  const out: Array<{ at: string; schema: object }> = [];
  for (const [name, s] of Object.entries(api.components?.schemas ?? {}))
    out.push({ at: `components.schemas.${name}`, schema: s as object });
  for (const [p, item] of Object.entries<any>(api.paths ?? {})) {
    for (const [method, op] of Object.entries<any>(item)) {
      for (const param of op.parameters ?? [])
        out.push({ at: `${method} ${p} parameter ${param.name}`, schema: param.schema });
      for (const [type, media] of Object.entries<any>(op.requestBody?.content ?? {}))
        out.push({ at: `${method} ${p} body ${type}`, schema: media.schema });
      for (const [code, r] of Object.entries<any>(op.responses ?? {}))
        for (const [type, media] of Object.entries<any>(r.content ?? {}))
          out.push({ at: `${method} ${p} ${code} ${type}`, schema: media.schema });
    }
  }
  return out.filter((s) => s.schema !== undefined);
}

describe('the API document (/docs/json)', () => {
  it('is valid OpenAPI 3.1 for a standard validator', async () => {
    expect(doc.openapi).toBe('3.1.0');
    // validate() dereferences in place: give it a copy. It throws with every problem listed.
    await SwaggerParser.validate(structuredClone(doc) as never);
  });

  it('has JSON Schema 2020-12 schemas throughout (no draft-07 tuples)', async () => {
    const api = await SwaggerParser.dereference(structuredClone(doc) as never);
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const bad = schemasOf(api)
      .filter(({ schema }) => !ajv.validateSchema(schema))
      .map(({ at }) => `${at}: ${ajv.errorsText(ajv.errors)}`);
    expect(bad).toEqual([]);
    expect(JSON.stringify(doc)).not.toContain('"additionalItems"');
    // Opening-hours intervals are the tuple: two clock times, nothing more.
    expect(JSON.stringify(doc)).toContain('"prefixItems"');
  });

  it('a client generated from it compiles and calls /v1/eta', async () => {
    const types = astToString(await openapiTS(doc as never));
    writeFileSync(path.join(work, 'api.ts'), types);
    writeFileSync(
      path.join(work, 'client.ts'),
      `import type { paths } from './api.js';

type Eta = paths['/v1/eta']['post'];
export type EtaRequest = Eta['requestBody']['content']['application/json'];
export type EtaAnswer = Eta['responses']['200']['content']['application/json'];

export async function callEta(base: string, key: string, body: EtaRequest): Promise<{ status: number; answer: EtaAnswer }> {
  const res = await fetch(base + '/v1/eta', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as EtaAnswer;
  // Typed fields, not any: these would not compile if the generated response type lacked them.
  const seconds: number = answer.eta_seconds;
  const range: number[] = answer.range_seconds;
  void seconds;
  void range;
  return { status: res.status, answer };
}

// The generated request type is strict: a missing destination is a compile error.
// @ts-expect-error destination is required
export const incomplete: EtaRequest = { store_id: 's-0001' };
`,
    );
    writeFileSync(
      path.join(work, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noUnusedLocals: true,
          lib: ['es2022', 'dom'],
          types: [],
          outDir: 'out',
          skipLibCheck: false,
        },
        files: ['api.ts', 'client.ts'],
      }),
    );
    writeFileSync(path.join(work, 'package.json'), '{"type":"module"}');
    const tsc = path.resolve('node_modules/typescript/bin/tsc');
    const compiled = await promisify(execFile)(process.execPath, [tsc, '-p', work]).catch(
      (e: { stdout?: string; message: string }) => {
        throw new Error(`tsc failed on the generated client:\n${e.stdout ?? e.message}`);
      },
    );
    expect(compiled.stdout).toBe('');

    const client = (await import(pathToFileURL(path.join(work, 'out', 'client.js')).href)) as {
      callEta: (base: string, key: string, body: unknown) => Promise<{ status: number; answer: any }>;
    };
    const { status, answer } = await client.callEta(platform.url, DEMO_KEY, {
      store_id: 's-0001',
      destination: { lat: 48.864, lng: 2.352 },
      items: 2,
      ordered_at: parisEvening(),
    });
    expect({ status, error: answer.error }).toEqual({ status: 200, error: undefined });
    expect(answer).toMatchObject({ store_id: 's-0001', eta_seconds: expect.any(Number) });
  }, 120_000);
});

describe('the OIP model metadata (GET /v2/models/eta)', () => {
  it('names the 12 inputs, in the order input-0 takes them, and the per-feature form agrees', async () => {
    const auth = { authorization: `Bearer ${DEMO_KEY}` };
    const meta = (await (await fetch(`${platform.url}/v2/models/eta`, { headers: auth })).json()) as any;
    expect(meta.inputs).toEqual([{ name: 'input-0', datatype: 'FP64', shape: [-1, 12] }]);
    expect(meta.parameters.feature_names.split(',')).toEqual(FEATURE_NAMES);
    expect(meta.parameters.feature_count).toBe(12);
    expect(meta.parameters.store_category_categories.split(',')).toContain('pizza');

    // A client that knows only the metadata: the same row as input-0 and as one named tensor per feature.
    const row = [2.1, 620, 19.5, 3, 0, 700, 720, 3, 2, 25, 6, 17];
    const infer = async (inputs: unknown[]): Promise<any> => {
      const res = await fetch(`${platform.url}/v2/models/eta/infer`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ inputs }),
      });
      expect(res.status).toBe(200);
      return res.json();
    };
    const whole = await infer([{ name: 'input-0', datatype: 'FP64', shape: [1, 12], data: row }]);
    const names: string[] = meta.parameters.feature_names.split(',');
    const named = await infer(
      names.map((name, i) => ({ name, datatype: 'FP64', shape: [1], data: [row[i]] })).reverse(),
    );
    expect(named.outputs).toEqual(whole.outputs);
  });
});

it('toJsonSchema2020 turns draft-07 tuples into prefixItems, leaving other arrays alone', () => {
  expect(
    toJsonSchema2020({
      type: 'array',
      items: [{ type: 'string' }, { type: 'string' }],
      additionalItems: false,
      minItems: 2,
    }),
  ).toEqual({
    type: 'array',
    prefixItems: [{ type: 'string' }, { type: 'string' }],
    items: false,
    minItems: 2,
  });
  expect(toJsonSchema2020({ type: 'array', items: [{ type: 'integer' }] })).toEqual({
    type: 'array',
    prefixItems: [{ type: 'integer' }],
  });
  const plain = { type: 'array', items: { type: 'integer' }, maxItems: 2 };
  expect(toJsonSchema2020(plain)).toEqual(plain);
});
