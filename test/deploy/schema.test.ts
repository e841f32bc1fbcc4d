import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KUSTOMIZATIONS,
  PLAIN_MANIFESTS,
  ROOT,
  id,
  kubectl,
  ofKind,
  readPlain,
  render,
  type K8sObject,
  type KustomizationName,
} from './manifests.js';

/**
 * Schema validation that catches unknown fields: every rendered object becomes `const o: Kind = {...}` in a
 * generated .ts file, typed with kubernetes-types (or test/deploy/keda-types.ts for KEDA). An object literal gets
 * TypeScript's excess-property check at every depth, so `replica:` for `replicas:` is an error, as are wrong types and
 * missing required fields. One compiler run for all objects.
 */
const KEDA_TYPES = path.join(ROOT, 'test/deploy/keda-types.ts');

function typeModule(o: K8sObject): string {
  if (o.apiVersion === 'keda.sh/v1alpha1') return 'keda-types';
  const [groupOrVersion, version] = o.apiVersion.split('/');
  // core "v1" has no group; "networking.k8s.io/v1" lives in kubernetes-types/networking/v1.
  const dir =
    version === undefined ? `core/${groupOrVersion}` : `${groupOrVersion!.split('.')[0]}/${version}`;
  return `kubernetes-types/${dir}`;
}

const typeFile = (o: K8sObject, source: string): string =>
  `// ${source}: ${id(o)}\nimport type { ${o.kind} } from '${typeModule(o)}';\n` +
  `export const o: ${o.kind} = ${JSON.stringify(o, null, 2)};\n`;

interface Checked {
  diagnostics: Map<string, string[]>;
  files: Map<string, string>;
}

function typecheck(dir: string, files: Map<string, string>): Checked {
  for (const [name, text] of files) writeFileSync(path.join(dir, name), text);
  const program = ts.createProgram({
    rootNames: [...files.keys()].map((f) => path.join(dir, f)),
    options: {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      types: [],
      paths: {
        'kubernetes-types/*': [path.join(ROOT, 'node_modules/kubernetes-types/*')],
        'keda-types': [KEDA_TYPES],
      },
    },
  });
  const diagnostics = new Map<string, string[]>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file ? path.basename(d.file.fileName) : '(global)';
    const where =
      d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    const list = diagnostics.get(file) ?? [];
    list.push(`line ${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    diagnostics.set(file, list);
  }
  return { diagnostics, files };
}

const bin = kubectl();

describe.skipIf(!bin)(
  'every manifest matches the Kubernetes schemas (kubernetes-types, excess properties)',
  () => {
    let dir: string;
    let checked: Checked;

    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'etaserve-schema-'));
      const files = new Map<string, string>();
      let n = 0;
      for (const name of Object.keys(KUSTOMIZATIONS) as KustomizationName[]) {
        for (const o of render(bin!, name)) files.set(`${name}-${n++}.ts`, typeFile(o, name));
      }
      for (const rel of PLAIN_MANIFESTS) {
        for (const o of readPlain(rel)) files.set(`plain-${n++}.ts`, typeFile(o, rel));
      }
      // Negative controls, compiled in the same run: the check must reject a misspelled field at the top of a spec
      // and deep inside a pod template, and an unknown field in a KEDA object.
      const dev = ofKind(render(bin!, 'dev'), 'Deployment')[0]!;
      const misspelt = structuredClone(dev) as K8sObject & { spec: Record<string, unknown> };
      misspelt.spec.replica = misspelt.spec.replicas;
      delete misspelt.spec.replicas;
      files.set('negative-replica.ts', typeFile(misspelt, 'negative control'));
      const deep = structuredClone(dev) as unknown as {
        spec: { template: { spec: { containers: Array<Record<string, unknown>> } } };
      };
      deep.spec.template.spec.containers[0]!.readinesProbe =
        deep.spec.template.spec.containers[0]!.readinessProbe;
      files.set('negative-deep.ts', typeFile(deep as unknown as K8sObject, 'negative control'));
      const so = structuredClone(ofKind(render(bin!, 'keda'), 'ScaledObject')[0]!) as K8sObject & {
        spec: Record<string, unknown>;
      };
      so.spec.maxReplicas = 3;
      files.set('negative-keda.ts', typeFile(so, 'negative control'));
      checked = typecheck(dir, files);
    }, 60_000);

    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('compiles every rendered object without an error', () => {
      const failures = [...checked.diagnostics]
        .filter(([file]) => !file.startsWith('negative-'))
        .map(([file, messages]) => `${checked.files.get(file)?.split('\n')[0]}\n  ${messages.join('\n  ')}`);
      expect(failures).toEqual([]);
      expect(checked.files.size).toBeGreaterThan(100);
    });

    it('catches a misspelled field (`replica:` for `replicas:`)', () => {
      const messages = checked.diagnostics.get('negative-replica.ts') ?? [];
      expect(messages.join('\n')).toMatch(/'"replica"' does not exist in type 'DeploymentSpec'/);
    });

    it('catches a misspelled field deep inside a pod template', () => {
      const messages = checked.diagnostics.get('negative-deep.ts') ?? [];
      expect(messages.join('\n')).toMatch(/'"readinesProbe"' does not exist in type 'Container'/);
    });

    it('catches an unknown field in a KEDA ScaledObject', () => {
      const messages = checked.diagnostics.get('negative-keda.ts') ?? [];
      expect(messages.join('\n')).toMatch(/'"maxReplicas"' does not exist/);
    });
  },
);
