import type { Logger } from './logger.js';
import type { Readiness } from './http-server.js';

export type ServiceState = 'new' | 'starting' | 'running' | 'stopping' | 'terminated' | 'failed';

/** What every module returns: started after its dependencies run, stopped before them. */
export interface Service {
  readonly name: string;
  start?(signal: AbortSignal): Promise<void>;
  stop?(): Promise<void>;
  /**
   * The module's own readiness (for example: a model is loaded). `degraded` means it still serves, with less:
   * the process stays in its load balancer and says why.
   */
  check?(): { ready: boolean; degraded?: boolean; reason?: string };
}

export class ServiceManager {
  private readonly states = new Map<string, ServiceState>();
  private readonly abort = new AbortController();
  private draining = false;

  constructor(
    private readonly services: Service[],
    private readonly logger: Logger,
  ) {
    for (const s of services) this.states.set(s.name, 'new');
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  async startAll(): Promise<void> {
    for (const service of this.services) {
      this.states.set(service.name, 'starting');
      try {
        await service.start?.(this.abort.signal);
        this.states.set(service.name, 'running');
      } catch (e) {
        this.states.set(service.name, 'failed');
        throw new Error(`module ${service.name} failed to start: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  /** Readiness turns false first, so load balancers stop sending before anything closes. */
  beginDrain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async stopAll(): Promise<void> {
    this.draining = true;
    this.abort.abort();
    for (const service of [...this.services].reverse()) {
      if (this.states.get(service.name) !== 'running') continue;
      this.states.set(service.name, 'stopping');
      try {
        await service.stop?.();
        this.states.set(service.name, 'terminated');
      } catch (e) {
        this.states.set(service.name, 'failed');
        this.logger.error({ err: e, module: service.name }, 'module failed to stop');
      }
    }
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    let unready = false;
    if (this.draining) {
      reasons.push('draining');
      unready = true;
    }
    for (const service of this.services) {
      const state = this.states.get(service.name);
      if (state !== 'running') {
        reasons.push(`${service.name} is ${state}`);
        unready = true;
      } else {
        const check = service.check?.();
        if (check && (!check.ready || check.degraded)) {
          reasons.push(`${service.name}: ${check.reason ?? (check.ready ? 'degraded' : 'not ready')}`);
          if (!check.ready) unready = true;
        }
      }
    }
    const status = unready ? 'unready' : reasons.length > 0 ? 'degraded' : 'ready';
    return { status, ready: !unready, reasons };
  }
}

/**
 * SIGTERM or SIGINT: turn unready, stop accepting, finish in-flight work up to the deadline, close clients, exit 0.
 * A second SIGINT (a person pressing Ctrl-C again) exits at once. A repeated SIGTERM does not: a container runtime
 * or a supervisor that signals the process group and also forwards the signal delivers it twice, and that must
 * still drain. A process started by `etaserve up` (with an IPC channel) also drains when its parent goes away,
 * so a killed parent leaves no orphan serving.
 */
export function exitOnSignals(manager: ServiceManager, logger: Logger, drainTimeoutMs: number): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals | 'disconnect'): void => {
    if (stopping) {
      if (signal === 'SIGINT') {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      logger.info({ signal }, 'already draining');
      return;
    }
    stopping = true;
    logger.info(
      { signal, drainTimeoutMs },
      signal === 'disconnect' ? 'parent went away: draining' : 'draining',
    );
    manager.beginDrain();
    const timer = setTimeout(() => {
      logger.error({ drainTimeoutMs }, 'drain deadline passed: exiting');
      process.exit(1);
    }, drainTimeoutMs + 2000);
    timer.unref();
    manager.stopAll().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (e: unknown) => {
        logger.error({ err: e }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (process.send) {
    process.once('disconnect', () => onSignal('disconnect'));
    // The channel only watches the parent: it must not keep the process alive by itself.
    process.channel?.unref();
  }
}
