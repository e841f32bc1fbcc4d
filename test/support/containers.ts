import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { findBinary } from './binaries.js';

const exec = promisify(execFile);

export const IMAGE = 'localhost/etaserve:dev';
/** Containers carry `etaserve.test=<group>`, so an interrupted run's leftovers can be found and removed. */
const LABEL = 'etaserve.test';

/** This host's hard limit of open files: a container may not ask for more. */
function hardNofile(): number {
  const out = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  return out === 'unlimited' ? 65_536 : Number(out) || 1024;
}

/**
 * The flags that run containers on these machines (as scripts/image-build.sh builds): runc (crun refuses hybrid
 * cgroups), explicit ulimits within the host's hard limits (the defaults try to raise limits a sandbox forbids), and
 * the host network (no CNI setup). The image's HEALTHCHECK needs systemd timers, which a container host without
 * systemd lacks: the test asks for readiness itself.
 */
function runFlags(): string[] {
  const nofile = Math.min(16_384, hardNofile());
  return [
    ...['--runtime', 'runc', '--network', 'host', '--no-healthcheck'],
    // As Kubernetes runs it (readOnlyRootFilesystem): only /data (the image's volume) and tmpfs /tmp are writable.
    '--read-only',
    ...['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', 'nproc=4096:4096'],
  ];
}

/**
 * Why the container toolchain cannot run here, or undefined when it can: root (podman's root storage, debootstrap),
 * podman with runc, and debootstrap. The package registries are checked by the image build itself.
 */
export function containerToolchainMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'the container tests run as root (podman root storage, debootstrap)';
  const missing = ['podman', 'runc', 'debootstrap'].filter((b) => !findBinary(b, ['/usr/sbin', '/sbin']));
  if (missing.length > 0)
    return `${missing.join(', ')} not installed (apt-get install -y podman buildah runc debootstrap)`;
  const probe = spawnSync('podman', ['--runtime', 'runc', 'info', '--format', '{{.Host.OCIRuntime.Name}}'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (probe.status !== 0) return `podman does not work here: ${probe.stderr.trim().split('\n').pop()}`;
  return undefined;
}

/**
 * Builds etaserve:dev with `npm run image:build` when the sources changed (the script compares a content hash and
 * returns at once otherwise), streaming its progress lines to stderr: a cold build takes minutes.
 */
export async function ensureImage(timeoutMs: number): Promise<{ seconds: number; rebuilt: boolean }> {
  const started = Date.now();
  let output = '';
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('bash', ['scripts/image-build.sh'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const take = (d: Buffer): void => {
      const text = d.toString();
      output += text;
      for (const line of text.split('\n')) if (line.startsWith('== image-build')) console.error(line);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', reject);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  if (code !== 0)
    throw new Error(
      `npm run image:build failed (exit ${code}):\n${output.split('\n').slice(-30).join('\n')}`,
    );
  return { seconds: (Date.now() - started) / 1000, rebuilt: !/is up to date/.test(output) };
}

export interface ContainerSpec {
  name: string;
  /** Its group (the test or benchmark that runs it), for clean-up. */
  group: string;
  /** The image's command: `start --target gateway`, `train --lake`, ... */
  args: string[];
  env: Record<string, string>;
  /** `host:container[:ro]` bind mounts. */
  volumes?: string[];
  /** `name:address` entries added to the container's /etc/hosts. */
  addHosts?: string[];
}

/** A container of the image, started detached; its state lives in its own filesystem unless a volume says else. */
export class Container {
  private constructor(readonly spec: ContainerSpec) {}

  static async start(spec: ContainerSpec): Promise<Container> {
    const args = ['run', '-d', '--name', spec.name, '--label', `${LABEL}=${spec.group}`, ...runFlags()];
    for (const [k, v] of Object.entries(spec.env)) args.push('-e', `${k}=${v}`);
    for (const v of spec.volumes ?? []) args.push('-v', v);
    for (const h of spec.addHosts ?? []) args.push('--add-host', h);
    await exec('podman', [...args, IMAGE, ...spec.args], { timeout: 60_000 });
    return new Container(spec);
  }

  get name(): string {
    return this.spec.name;
  }

  /** `podman rm -f`: SIGKILL, no drain, its filesystem and its /data gone. */
  async remove(): Promise<void> {
    await exec('podman', ['rm', '-f', '-v', '-t', '0', this.spec.name], { timeout: 60_000 }).catch(
      () => undefined,
    );
  }

  async logs(): Promise<string> {
    const { stdout, stderr } = await exec('podman', ['logs', this.spec.name], {
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    }).catch((e: { stdout?: string; stderr?: string }) => ({
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    }));
    return stdout + stderr;
  }

  async running(): Promise<boolean> {
    const { stdout } = await exec('podman', ['inspect', '--format', '{{.State.Running}}', this.spec.name], {
      timeout: 30_000,
    }).catch(() => ({ stdout: 'false' }));
    return stdout.trim() === 'true';
  }

  /** Runs a command of the image inside this container (its filesystem, its environment). */
  async exec(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
    return exec('podman', ['exec', this.spec.name, 'node', 'bin/etaserve.js', ...args], {
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({
        code: typeof e.code === 'number' ? e.code : 1,
        stdout: e.stdout ?? '',
        stderr: e.stderr ?? '',
      }),
    );
  }
}

/** Removes every container of a group (this run's, or an interrupted earlier run's). */
export function removeContainers(group: string): void {
  const listed = spawnSync('podman', ['ps', '-aq', '--filter', `label=${LABEL}=${group}`], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  const ids = listed.stdout.split('\n').filter(Boolean);
  if (ids.length > 0) spawnSync('podman', ['rm', '-f', '-v', '-t', '0', ...ids], { timeout: 60_000 });
}
