import type { Logger } from '../platform/index.js';
import { restoreOnlineRanges, type ModelRegistry } from '../registry/index.js';
import type { ActiveModel, ModelRuntime } from './model-runtime.js';

/**
 * Keeps the online state of the champion and the challenger as their feeder last saved it in the registry. Every
 * replica reads the same saves, so every replica serves the same ranges (a poll apart). Until a version has a
 * save, its answers use its own artifact's factors, which is where the feeder starts it too.
 */
export class OnlineRangesFollower {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly options: {
      runtime: ModelRuntime;
      registry: ModelRegistry;
      pollMs: number;
      logger: Logger;
    },
  ) {
    options.runtime.onChange((_alias, active) => {
      if (active) void this.refresh();
    });
  }

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Loads newer saves of the served versions; one refresh at a time. */
  refresh(): Promise<void> {
    this.running ??= this.refreshOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async refreshOnce(): Promise<void> {
    const { runtime } = this.options;
    for (const active of new Set([runtime.active, runtime.challenger])) {
      if (active?.ranges) await this.load(active);
    }
  }

  private async load(active: ActiveModel): Promise<void> {
    const ranges = active.ranges!;
    try {
      const saved = await this.options.registry.loadOnlineRanges(active.version, active.onlineSavedAt);
      if (!saved) return;
      active.online = restoreOnlineRanges(saved.state, ranges).served;
      active.onlineSavedAt = saved.savedAt;
    } catch (e) {
      this.options.logger.warn(
        { err: e, version: active.version },
        'online ranges not loaded: serving the last ones',
      );
    }
  }
}
