import { consoleOutput, type Output } from './output.js';

const USAGE = `etaserve: delivery ETAs in milliseconds, with a model that keeps itself fresh.

Usage: etaserve <command> [options]   (every command takes --help)

Commands:
  start     run the platform: every module in one process (default), or one module (--target)
  up        run the local cluster: each module and N predictor replicas in their own processes
  targets   list the modules a process can run
  stores    import and list stores
  simulate  write a simulated city's order history to files
  train     train a model (simulated history, the event log, Parquet or a CSV), evaluate, register, report
  models    list, show, promote (refused if worse, unless forced), roll back, audit and set the challenger
  model     train, predict and inspect models on CSV files (etaserve or XGBoost JSON)
  keys      create, list, rotate and revoke API keys
  events    forget a customer, orders or a rider in the event log; log stats`;

type Command = (args: string[], out: Output) => Promise<number>;

// Commands load on demand: `etaserve keys list` need not load the model library or fastify.

const COMMANDS: Record<string, Command> = {
  start: async (args, out) => (await import('./start-command.js')).runStartCommand(args, out),
  up: async (args, out) => (await import('./up-command.js')).runUpCommand(args, out),
  targets: async (args, out) => {
    if (args.includes('--help') || args.includes('-h')) {
      out.log(
        'Usage: etaserve targets\n\nLists the modules that `etaserve start --target` can run, and what each needs.',
      );
      return 0;
    }
    out.log('all        every module in one process (the embedded default)');
    for (const line of (await import('../app/index.js')).describeModules()) out.log(line);
    return 0;
  },
  stores: async (args, out) => {
    const { runStoresCommand } = await import('./stores-command.js');
    const { openCatalogFromConfig } = await import('../app/index.js');
    const { loadConfigOrExplain } = await import('./start-command.js');
    const configIndex = args.indexOf('--config');
    const configFile = configIndex >= 0 ? args[configIndex + 1] : undefined;
    const rest = configIndex >= 0 ? args.filter((_, i) => i !== configIndex && i !== configIndex + 1) : args;
    return runStoresCommand(rest, {
      openCatalog: async () => {
        const config = loadConfigOrExplain(configFile, out);
        if (!config) throw new Error('invalid configuration');
        return openCatalogFromConfig(config);
      },
      log: out.log,
      error: out.error,
    });
  },
  simulate: async (args, out) => (await import('./simulate-command.js')).runSimulateCommand(args, out),
  train: async (args, out) => {
    const { loadConfigOrExplain } = await import('./start-command.js');
    const { runTrainCommand, trainDepsFromConfig } = await import('./train-command.js');
    // The registry and the speeds file live in the data directory of the environment's configuration.
    const config = loadConfigOrExplain(undefined, out);
    if (!config) return 1;
    return runTrainCommand(args, { ...out, ...(await trainDepsFromConfig(config)) });
  },
  models: async (args, out) => {
    const { loadConfigOrExplain } = await import('./start-command.js');
    const { runModelsCommand } = await import('./models-command.js');
    const { registryFromConfig } = await import('../app/index.js');
    const configIndex = args.indexOf('--config');
    const config = loadConfigOrExplain(configIndex >= 0 ? args[configIndex + 1] : undefined, out);
    if (!config) return 1;
    const rest = configIndex >= 0 ? args.filter((_, i) => i !== configIndex && i !== configIndex + 1) : args;
    return runModelsCommand(rest, out, () => registryFromConfig(config), config.pipeline.policy);
  },
  model: async (args, out) => (await import('./model-command.js')).runModelCommand(args, out),
  keys: async (args, out) => (await import('./keys-command.js')).runKeysCommand(args, out),
  events: async (args, out) => (await import('./events-command.js')).runEventsCommand(args, out),
};

/**
 * `etaserve model predict ... | head`: once the reader closes the pipe, the rest of the output has nowhere to go.
 * Exit at once with 0, quietly, as `head`'s users expect from `cat`, `seq` and the like, rather than a stack trace.
 */
export function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

export async function main(argv: string[], out: Output = consoleOutput): Promise<number> {
  if (out === consoleOutput) exitQuietlyOnClosedPipe();
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    out.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === '--version' || command === '-v') {
    out.log('etaserve 0.1.0');
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    out.error(`unknown command ${command}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(args, out);
  } catch (e) {
    out.error(`etaserve ${command}: ${(e as Error).message}`);
    return 1;
  }
}
