import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { isLoopback, prepareFirstRun } from '../app/index.js';
import { newDemoKey } from '../gateway/index.js';
import { parseCommand } from './help.js';
import type { Output } from './output.js';
import { loadConfigOrExplain } from './start-command.js';

const USAGE = `Usage: etaserve up [--predictors N] [--config FILE]

Starts the local cluster: store, geo, N predictor replicas, the pipeline (continuous training) and the gateway,
each its own process on its own port, with the gateway on the same port as \`etaserve start\`. This parent
listens on no port. Like start, it trains a model first if none is registered. Ctrl-C or SIGTERM stops every
child. The children share an internal token generated for this run (unless platform.internalToken or
platform.internalTokenFile is set); on a loopback host the gateway has a demo key with every scope.

Options:
  --predictors N  predictor replicas (default 2)
  --config FILE   YAML or JSON config file, passed to every child
  -h, --help      this help`;

const BIN = fileURLToPath(new URL('../../bin/etaserve.js', import.meta.url));

interface Child {
  name: string;
  url: string;
  process: ChildProcess;
}

async function waitReady(child: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null)
      throw new Error(`${child.name} exited with code ${child.process.exitCode} while starting`);
    try {
      const res = await fetch(`${child.url}/readyz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${child.name} was not ready within ${timeoutMs / 1000} s`);
}

export async function runUpCommand(args: string[], out: Output): Promise<number> {
  const parsed = parseCommand(
    args,
    { predictors: { type: 'string', default: '2' }, config: { type: 'string' } },
    USAGE,
    out,
  );
  if ('exit' in parsed) return parsed.exit;
  const predictors = Number(parsed.values.predictors);
  if (!Number.isInteger(predictors) || predictors < 1 || predictors > 32) {
    out.error(`--predictors must be an integer from 1 to 32, got ${String(parsed.values.predictors)}`);
    return 2;
  }
  const configFile = parsed.values.config as string | undefined;
  const config = loadConfigOrExplain(configFile, out);
  if (!config) return 1;
  await prepareFirstRun(config, { trainModel: true, seedStores: true }, out);

  const host = config.platform.host === '0.0.0.0' ? '127.0.0.1' : config.platform.host;
  const url = (port: number): string => `http://${host}:${port}`;
  const storeUrl = url(config.store.port);
  const geoUrl = url(config.geo.port);
  const predictorUrls = Array.from({ length: predictors }, (_, i) => url(config.predictor.port + i));
  // The demo key only on loopback (a demo shape); elsewhere the gateway creates or reads an admin key itself.
  const demoKey = isLoopback(host) ? config.gateway.demoApiKey || newDemoKey() : undefined;
  // Every internal route of the children requires this token; each child's clients send it.
  const tokenEnv: Record<string, string> =
    config.platform.internalToken || config.platform.internalTokenFile
      ? {}
      : { ETASERVE_INTERNAL_TOKEN: randomBytes(32).toString('base64url') };
  const children: Child[] = [];
  let stopping = false;

  const launch = (name: string, target: string, childUrl: string, env: Record<string, string>): Child => {
    const proc = spawn(
      process.execPath,
      [BIN, 'start', '--target', target, ...(configFile ? ['--config', configFile] : [])],
      {
        env: { ...process.env, ...tokenEnv, ...env },
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    const child = { name, url: childUrl, process: proc };
    proc.on('exit', (code, signal) => {
      if (!stopping)
        out.error(`${name} exited (${signal ?? `code ${code}`}); the rest of the cluster keeps running`);
    });
    children.push(child);
    return child;
  };

  const stopAll = async (): Promise<void> => {
    stopping = true;
    // The gateway first, so nothing new reaches the modules behind it while they drain.
    for (const child of [...children].reverse()) {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve();
        const timer = setTimeout(() => {
          child.process.kill('SIGKILL');
          resolve();
        }, config.platform.drainTimeoutMs + 3000);
        child.process.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };

  const onSignal = (): void => {
    if (stopping) return;
    out.log('stopping the cluster…');
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const store = launch('store', 'store', storeUrl, { ETASERVE_STORE_PORT: String(config.store.port) });
    const geo = launch('geo', 'geo', geoUrl, { ETASERVE_GEO_PORT: String(config.geo.port) });
    await Promise.all([waitReady(store, 60_000), waitReady(geo, 60_000)]);
    const replicas = predictorUrls.map((u, i) =>
      launch(`predictor-${i + 1}`, 'predictor', u, {
        ETASERVE_PREDICTOR_PORT: String(config.predictor.port + i),
        ETASERVE_TOPOLOGY_STORE_URL: storeUrl,
        ETASERVE_TOPOLOGY_GEO_URL: geoUrl,
      }),
    );
    // Continuous training: works from the shared data directory (event log, lake, registry), so it needs no port
    // of the others; predictors pick up what it promotes through the registry aliases.
    const pipeline = launch('pipeline', 'pipeline', url(config.pipeline.port), {
      ETASERVE_PIPELINE_PORT: String(config.pipeline.port),
      ETASERVE_TOPOLOGY_STORE_URL: storeUrl,
      ETASERVE_TOPOLOGY_GEO_URL: geoUrl,
    });
    await Promise.all([...replicas, pipeline].map((r) => waitReady(r, 120_000)));
    const gateway = launch('gateway', 'gateway', url(config.gateway.port), {
      ETASERVE_GATEWAY_PORT: String(config.gateway.port),
      ETASERVE_TOPOLOGY_STORE_URL: storeUrl,
      ETASERVE_TOPOLOGY_GEO_URL: geoUrl,
      ETASERVE_TOPOLOGY_PREDICTOR_URLS: predictorUrls.join(','),
      ...(demoKey ? { ETASERVE_DEMO_API_KEY: demoKey, ETASERVE_LOCAL_CLUSTER: '1' } : {}),
    });
    await waitReady(gateway, 60_000);
  } catch (e) {
    out.error(`the cluster did not start: ${(e as Error).message}`);
    await stopAll();
    return 1;
  }

  out.log('etaserve local cluster is up:');
  for (const child of children)
    out.log(`  ${child.name.padEnd(12)} ${child.url}  (pid ${child.process.pid})`);
  out.log(`  console:     ${url(config.gateway.port)}/`);
  if (demoKey) out.log(`  demo API key (every scope): ${demoKey}`);
  return new Promise<number>(() => undefined);
}
