import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './manifests.js';

/**
 * No Docker engine here: the Dockerfile is checked statically. Instructions are parsed with their line
 * continuations joined; each stage keeps its own list.
 */
interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(rest)!;
      const from = m[1]!.replace(/\$\{(\w+)\}/g, (_, v: string) => args.get(v) ?? '');
      stages.push({ from, name: m[2], instructions: [] });
    } else if (upper === 'ARG' && stages.length === 0) {
      const [k, v = ''] = rest.split('=');
      args.set(k!, v);
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push({ op: upper, args: rest });
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.stages.at(-1)!;
const build = dockerfile.stages[0]!;
const all = (stage: Stage, op: string): string[] =>
  stage.instructions.filter((i) => i.op === op).map((i) => i.args);
const last = (stage: Stage, op: string): string | undefined => all(stage, op).at(-1);

describe('Dockerfile (static)', () => {
  it('is multi-stage: build then a slim or distroless Node 20 runtime', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    expect(build.name).toBe('build');
    expect(runtime.from).toMatch(
      /^(node:20(-bookworm)?-slim|gcr\.io\/distroless\/nodejs20-debian12)(@sha256:[0-9a-f]{64})?$/,
    );
  });

  it('installs with npm ci, builds, and prunes dev dependencies in the build stage', () => {
    const runs = all(build, 'RUN').join('\n');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm run build\b/);
    expect(runs).toMatch(/npm prune --omit=dev\b/);
    // The native module needs its toolchain in the build stage only.
    expect(runs).toMatch(/python3.*make.*g\+\+/);
    expect(all(runtime, 'RUN').join('\n')).not.toMatch(/g\+\+|npm ci/);
  });

  it('the runtime copies from the build stage and runs as a numeric non-root user', () => {
    expect(all(runtime, 'COPY').some((c) => c.startsWith('--from=build') && c.includes('node_modules'))).toBe(
      true,
    );
    const user = last(runtime, 'USER');
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user!.split(':')[0])).toBeGreaterThan(0);
    // Kubernetes runs it with the same uid (deploy/k8s/base/deployment.yaml).
    expect(readFileSync(path.join(ROOT, 'deploy/k8s/base/deployment.yaml'), 'utf8')).toContain(
      `runAsUser: ${user!.split(':')[0]}`,
    );
  });

  it('starts under tini with the CLI as entrypoint, the target in CMD, exec form', () => {
    const entrypoint = JSON.parse(last(runtime, 'ENTRYPOINT')!) as string[];
    expect(entrypoint[0]).toMatch(/tini$/);
    expect(entrypoint.slice(1)).toEqual(['--', 'node', 'bin/etaserve.js']);
    const cmd = JSON.parse(last(runtime, 'CMD')!) as string[];
    expect(cmd.slice(0, 2)).toEqual(['start', '--target']);
  });

  it('keeps state on /data for a read-only root filesystem, listens on all interfaces, and is labelled', () => {
    const env = all(runtime, 'ENV').join(' ');
    expect(env).toMatch(/ETASERVE_DATA_DIR=\/data/);
    expect(env).toMatch(/ETASERVE_HOST=0\.0\.0\.0/);
    expect(all(runtime, 'VOLUME').join(' ')).toContain('/data');
    const labels = all(runtime, 'LABEL').join(' ');
    for (const l of ['title', 'source', 'version', 'revision', 'licenses']) {
      expect(labels).toContain(`org.opencontainers.image.${l}=`);
    }
  });

  it('.dockerignore keeps node_modules, .git and local state out of the context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', '.git', '.etaserve', 'dist']) expect(ignored).toContain(p);
    // ...but not what the build needs.
    for (const p of ['src', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json'])
      expect(ignored).not.toContain(p);
  });
});
