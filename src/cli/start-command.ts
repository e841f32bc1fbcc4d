import {
  composeProcess,
  loadAppConfig,
  prepareFirstRun,
  remoteModules,
  resolveTargets,
  startLiveTraffic,
  StartupError,
  TARGETS,
  type AppConfig,
} from '../app/index.js';
import { ApiKeyFileError, isoInTimezone, newDemoKey } from '../gateway/index.js';
import { ConfigError, exitOnSignals } from '../platform/index.js';
import { DEFAULT_TIMEZONE } from '../simulator/index.js';
import { parseCommand } from './help.js';
import type { Output } from './output.js';

const USAGE = `Usage: etaserve start [--target all|${TARGETS.slice(1).join('|')}[,...]] [--config FILE]

Runs etaserve. --target all (the default) runs every module in this one process; a module name runs only that
module (and the modules it needs that are not configured as remote in the topology section).
When no model is registered yet, a city's history is simulated and a model trained first (on a loopback host, the
demo); anywhere else (pipeline.source lake) nothing is simulated: fallback ETAs serve until a model trained on the
lake is promoted.
On a loopback host, --target all prints a demo key with every scope at each start. Anywhere else there is no demo
key: the first start creates an admin key and prints it once (or set gateway.adminKeyFile). See docs/security.md.

Options:
  --target T     module(s) to run, comma-separated (default: all)
  --config FILE  YAML or JSON config file; ETASERVE_* environment variables override it
  -h, --help     this help`;

/** 19:30 today in the simulated city, when its stores are open, whatever the time the demo starts. */
function tonight(): string {
  const now = isoInTimezone(Date.now(), DEFAULT_TIMEZONE);
  return `${now.slice(0, 10)}T19:30:00${now.slice(19)}`;
}

export function loadConfigOrExplain(file: string | undefined, out: Output): AppConfig | undefined {
  try {
    return loadAppConfig({ file });
  } catch (e) {
    if (e instanceof ConfigError) {
      out.error(e.message);
      return undefined;
    }
    throw e;
  }
}

export async function runStartCommand(args: string[], out: Output): Promise<number> {
  const parsed = parseCommand(
    args,
    { target: { type: 'string', default: 'all' }, config: { type: 'string' } },
    USAGE,
    out,
  );
  if ('exit' in parsed) return parsed.exit;
  const config = loadConfigOrExplain(parsed.values.config as string | undefined, out);
  if (!config) return 1;
  const targets = String(parsed.values.target)
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  let modules;
  try {
    modules = resolveTargets(targets, remoteModules(config));
  } catch (e) {
    out.error((e as Error).message);
    return 2;
  }

  if ((modules.includes('predictor') && !config.predictor.modelFile) || modules.includes('store')) {
    await prepareFirstRun(
      config,
      {
        trainModel: modules.includes('predictor') && !config.predictor.modelFile,
        seedStores: modules.includes('store'),
      },
      out,
    );
  }

  let proc;
  try {
    // `etaserve up` marks its children: on loopback they are a demo shape too (the gateway gets the demo key).
    proc = await composeProcess(config, targets, undefined, {
      localCluster: process.env.ETASERVE_LOCAL_CLUSTER === '1',
    });
  } catch (e) {
    if (e instanceof StartupError || e instanceof ApiKeyFileError) {
      out.error(e.message);
      return 1;
    }
    throw e;
  }
  exitOnSignals(proc.manager, proc.logger, config.platform.drainTimeoutMs);
  try {
    await proc.manager.startAll();
  } catch (e) {
    proc.logger.error({ err: e }, 'start failed');
    out.error((e as Error).message);
    await proc.manager.stopAll();
    return 1;
  }
  const hostOf = (host: string): string => (host === '0.0.0.0' ? 'localhost' : host);
  const url = `http://${hostOf(config.platform.host)}:${proc.port}`;
  out.log(`etaserve ${targets.join(',')} (${proc.modules.join(', ')}) is serving on ${url}`);
  for (const l of proc.listeners.slice(1))
    out.log(`  ${l.name} listener: http://${hostOf(l.host)}:${l.port}`);
  const gateway = proc.gateway;
  if (gateway) {
    out.log(`  console:  ${url}/`);
    out.log(`  API docs: ${url}/docs`);
    const key = gateway.demoApiKey ?? gateway.firstAdminKey;
    if (gateway.demoApiKey) out.log(`  demo API key (every scope): ${gateway.demoApiKey}`);
    if (gateway.firstAdminKey)
      out.log(
        `  first start: created an admin key (every scope). Store it now; it is not shown again, only its hash is kept:\n  ${gateway.firstAdminKey}`,
      );
    if (key)
      out.log(
        `  try: curl -s ${url}/v1/eta -H 'authorization: Bearer ${key}' -H 'content-type: application/json' -d '{"store_id":"s-0001","destination":{"lat":48.86,"lng":2.347},"ordered_at":"${tonight()}"}'`,
      );
  }
  if (
    gateway &&
    targets.includes('all') &&
    config.simulator.enabled &&
    config.simulator.liveRequestsPerSecond > 0
  ) {
    // The simulated customers use the demo key where there is one; elsewhere a key of this process alone, never
    // printed nor written, with the scopes they need.
    let key = gateway.demoApiKey;
    if (!key) {
      key = newDemoKey();
      gateway.keys.addBuiltIn(
        key,
        ['predict', 'events'],
        config.gateway.demoRateLimitPerSecond,
        'live-traffic',
      );
    }
    const stop = startLiveTraffic(config, `http://127.0.0.1:${proc.port}`, key, proc.logger);
    proc.manager.signal.addEventListener('abort', stop);
  }
  // Runs until a signal; exitOnSignals ends the process.
  return new Promise<number>(() => undefined);
}
