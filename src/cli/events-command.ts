import { openEventLog, type ForgetRequest } from '../events/index.js';
import { parseCommand } from './help.js';
import { printJson, type Output } from './output.js';
import { loadConfigOrExplain } from './start-command.js';

const USAGE = `Usage: etaserve events <forget|stats> [options]

  events forget --customer ID        removes a customer's personal data from the event log: their orders lose
                                     destination, customer and rider ids; their app events keep only the envelope
  events forget --orders ID,ID,...   the same for these orders
  events forget --rider ID           a rider's positions and id
  events stats                       size, segments and offsets of the event log, and how far the lake got

Options: --json (the result as JSON, for scripts), --config FILE, -h/--help. Safe while etaserve runs: records are
rewritten in place (file log) or deleted (Redis), and the forget journal takes it to the pipeline's lake and to the
store and geo projections of every process (docs/events.md).`;

export async function runEventsCommand(args: string[], out: Output): Promise<number> {
  const [sub, ...rest] = args;
  const parsed = parseCommand(
    rest,
    {
      customer: { type: 'string' },
      orders: { type: 'string' },
      rider: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
    out,
    false,
  );
  if ('exit' in parsed) return parsed.exit;
  if (!sub || sub === '--help' || sub === '-h') {
    out.log(USAGE);
    return sub ? 0 : 2;
  }
  const config = loadConfigOrExplain(parsed.values.config as string | undefined, out);
  if (!config) return 1;
  const log = openEventLog(config.events, config.platform.dataDir, {
    role: 'reader',
    fallbackRedisUrl: config.cache.redisUrl,
  });
  await log.open();
  try {
    if (sub === 'stats') {
      const s = await log.stats();
      // The lake writer's position is the consumer group `lake` (absent: no lake writer has run on this log).
      const lake = await log.committed('lake');
      if (parsed.values.json) return (printJson({ kind: log.kind, ...s, lake: lake ?? null }, out), 0);
      out.log(
        `${log.kind} event log: ${s.bytes} bytes in ${s.segments} segment(s), offsets ${s.first} .. ${s.next}; lake at ${lake ?? 'none'}`,
      );
      return 0;
    }
    if (sub !== 'forget') {
      out.error(`unknown subcommand ${sub}\n\n${USAGE}`);
      return 2;
    }
    const { customer, orders, rider } = parsed.values as {
      customer?: string;
      orders?: string;
      rider?: string;
    };
    const given = [customer, orders, rider].filter((v) => v !== undefined);
    if (given.length !== 1) {
      out.error(`give exactly one of --customer, --orders, --rider\n\n${USAGE}`);
      return 2;
    }
    const request: ForgetRequest = customer
      ? { customerId: customer }
      : orders
        ? {
            orderIds: orders
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          }
        : { riderId: rider! };
    const result = await log.forget(request);
    if (parsed.values.json) return (printJson(result, out), 0);
    out.log(
      `forgot ${result.redacted} event(s): ${result.orderIds.length} order(s), ${result.riderIds.length} rider(s), ${result.customerIds.length} customer(s)`,
    );
    return 0;
  } finally {
    await log.close();
  }
}
