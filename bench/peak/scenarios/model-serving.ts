/**
 * Scenario 1: raw model serving, same model. The peer (FastAPI + uvicorn + XGBoost, one worker) and etaserve's
 * predictor (OIP v2) serve the peer's `model.json`; the same rows drive both, alternating side by side at each
 * fixed rate, then a max-rate search per side and endpoint.
 */
import { judgeStep, maxRateSearch } from '../../loadgen/index.js';
import type { LoadOptions } from '../../loadgen/index.js';
import { sampleTree } from '../../lib/cpu.js';
import { runMeasured } from '../../lib/measure.js';
import type { MeasuredResult, MeasureOptions } from '../../lib/measure.js';
import type { EndpointConfig, PeakConfig } from '../config.js';
import { oipTargets, predictorCommandLine, startEtaservePredictor } from '../etaserve-predictor.js';
import { PEER_FILES, peerTargets, startPeer } from '../peer.js';
import type { RunningServer } from '../peer.js';
import { probe } from '../target.js';
import type { Target } from '../target.js';

export type SideName = 'peer' | 'etaserve';
export type Endpoint = 'single' | 'batch';
export const ENDPOINTS: Endpoint[] = ['single', 'batch'];

/** How to get etaserve's side: not at all (pending), start the predictor, or drive one already running. */
export type EtaserveMode =
  | { kind: 'off' }
  | { kind: 'start'; modelFile?: string; modelName?: string }
  | { kind: 'url'; url: string; modelName?: string };

export interface FixedRun {
  endpoint: Endpoint;
  rate: number;
  /** No errors, timeouts or non-2xx, and achieved >= 97% of the rate (latency aside). */
  sustained: boolean;
  reasons: string[];
  result: MeasuredResult;
}

export interface SearchSummary {
  endpoint: Endpoint;
  slo: { percentile: string; maxMs: number };
  maxRate: number;
  rowsPerSec: number;
  atMax: { p50: number; p99: number; max: number; cpuMsPerRequest: number | undefined } | undefined;
  firstFailRate: number | undefined;
  steps: { rate: number; pass: boolean; reasons: string[]; attempt: number; result: MeasuredResult }[];
}

export interface SideResult {
  side: SideName;
  status: 'ok' | 'pending' | 'failed';
  reason?: string;
  /** What was run, for the record. */
  what: string;
  fixed: FixedRun[];
  search: Partial<Record<Endpoint, SearchSummary>>;
  /** Peak RSS (VmHWM) of the server process(es) at the end of the scenario. */
  peakRssMb?: number;
}

export interface ModelServingResult {
  id: 'model-serving';
  title: string;
  sides: Record<SideName, SideResult>;
}

interface ActiveSide {
  result: SideResult;
  server: RunningServer | undefined;
  pids: Record<string, number>;
  targets: Record<Endpoint, Target>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function loadOptions(cfg: PeakConfig, t: Target, rate: number, label: string): LoadOptions {
  return {
    url: t.url,
    path: t.path,
    method: 'POST',
    ...(t.headers ? { headers: t.headers } : {}),
    rate,
    durationSec: cfg.durationSec,
    warmupSec: cfg.warmupSec,
    connections: cfg.connections,
    timeoutMs: cfg.timeoutMs,
    source: t.source,
    itemsPerRequest: t.rowsPerRequest,
    label,
  };
}

const quietOpts = (cfg: PeakConfig): MeasureOptions => ({
  quietWaitMs: cfg.quiet.waitMs,
  quietCores: cfg.quiet.cores,
});

const brief = (r: MeasuredResult): string =>
  `achieved ${r.achievedRate}/s p50 ${r.latency.p50} p99 ${r.latency.p99} max ${r.latency.max} ms` +
  (r.errors || r.timeouts || r.non2xx
    ? ` errors ${r.errors} timeouts ${r.timeouts} non2xx ${r.non2xx}`
    : '') +
  ` | server ${r.usage['server']?.cpuMsPerRequest ?? '-'} ms CPU/req ${r.usage['server']?.cpuPercent ?? '-'}%, gen ${r.usage['generator']?.cpuPercent ?? '-'}%` +
  ` | others ${r.machine.othersCores} cores${r.machine.waitedMs ? ` (waited ${r.machine.waitedMs} ms)` : ''}`;

export async function runModelServing(
  cfg: PeakConfig,
  mode: EtaserveMode,
  log: (line: string) => void,
): Promise<ModelServingResult> {
  const sides: Record<SideName, SideResult> = {
    peer: {
      side: 'peer',
      status: 'ok',
      what: 'fastapi-xgboost: 1 uvicorn worker (uvloop, httptools), XGB_NTHREAD=1; /predict and /predict/batch',
      fixed: [],
      search: {},
    },
    etaserve: {
      side: 'etaserve',
      status: 'pending',
      what: `etaserve predictor: ${predictorCommandLine()}; POST /v2/models/{name}/infer (OIP v2, FP32 [N,16])`,
      fixed: [],
      search: {},
    },
  };
  const active: ActiveSide[] = [];
  const started: RunningServer[] = [];

  try {
    try {
      const server = await startPeer(1);
      started.push(server);
      active.push({
        result: sides.peer,
        server,
        pids: { server: server.pid },
        targets: peerTargets(server.url),
      });
    } catch (err) {
      sides.peer.status = 'failed';
      sides.peer.reason = `peer did not start: ${err instanceof Error ? err.message : String(err)}`;
      log(sides.peer.reason);
    }

    if (mode.kind === 'off') {
      sides.etaserve.reason =
        'the predictor is not ready yet; run with --etaserve (starts it) or --etaserve-url URL';
    } else {
      try {
        const server =
          mode.kind === 'start'
            ? await startEtaservePredictor(mode.modelFile ?? PEER_FILES.model)
            : undefined;
        if (server) started.push(server);
        const url = server?.url ?? (mode as { url: string }).url;
        sides.etaserve.status = 'ok';
        active.push({
          result: sides.etaserve,
          server,
          pids: server ? { server: server.pid } : {},
          targets: oipTargets(url, mode.modelName),
        });
      } catch (err) {
        sides.etaserve.status = 'failed';
        sides.etaserve.reason = `predictor did not start: ${err instanceof Error ? err.message : String(err)}`;
        log(sides.etaserve.reason);
      }
    }

    // A wrong body must fail loudly here, not show up as a wall of non-2xx under load.
    for (const side of [...active]) {
      for (const ep of ENDPOINTS) {
        const p = await probe(side.targets[ep]);
        if (!p.ok) {
          side.result.status = 'failed';
          side.result.reason = `probe failed: ${p.reason}`;
          log(`${side.result.side}: ${side.result.reason}`);
          active.splice(active.indexOf(side), 1);
          break;
        }
      }
    }

    for (const ep of ENDPOINTS) {
      const epCfg: EndpointConfig = cfg[ep];
      for (const rate of epCfg.fixedRates) {
        for (const side of active) {
          const name = `${side.result.side} ${ep} @ ${rate}/s`;
          const result = await runMeasured(
            loadOptions(cfg, side.targets[ep], rate, name),
            side.pids,
            quietOpts(cfg),
          );
          const reasons = judgeStep(result, { percentile: 'p99', maxMs: Number.POSITIVE_INFINITY });
          side.result.fixed.push({ endpoint: ep, rate, sustained: reasons.length === 0, reasons, result });
          log(`  ${name.padEnd(28)} ${brief(result)}`);
          await sleep(cfg.cooldownMs);
        }
      }
    }

    for (const side of cfg.search ? active : []) {
      for (const ep of ENDPOINTS) {
        const s = cfg[ep].search;
        log(
          `  ${side.result.side} ${ep}: max rate search, ${s.slo.percentile} <= ${s.slo.maxMs} ms, no errors`,
        );
        const res = await maxRateSearch<MeasuredResult>({
          base: loadOptions(cfg, side.targets[ep], 0, `${side.result.side} ${ep} search`),
          slo: s.slo,
          startRate: s.startRate,
          growth: s.growth,
          refineSteps: s.refineSteps,
          retries: s.retries,
          cooldownMs: cfg.cooldownMs,
          run: (o) => runMeasured(o, side.pids, quietOpts(cfg)),
          noisy: (r) => r.machine.othersCores > cfg.quiet.noisyOthersCores,
          noisyRetries: 2,
          onStep: (st) =>
            log(`    ${String(st.rate).padStart(6)}/s ${st.pass ? 'pass' : 'MISS'} ${brief(st.result)}`),
        });
        const best = res.best?.result;
        side.result.search[ep] = {
          endpoint: ep,
          slo: res.slo,
          maxRate: res.maxRate,
          rowsPerSec: best ? best.itemsPerSec : 0,
          atMax: best
            ? {
                p50: best.latency.p50,
                p99: best.latency.p99,
                max: best.latency.max,
                cpuMsPerRequest: best.usage['server']?.cpuMsPerRequest,
              }
            : undefined,
          firstFailRate: res.firstFail?.rate,
          steps: res.steps,
        };
        log(`  => ${side.result.side} ${ep}: ${res.maxRate}/s (${best ? best.itemsPerSec : 0} rows/s)`);
      }
    }

    for (const side of active) {
      if (side.server) {
        const s = sampleTree(side.server.pid);
        if (s) side.result.peakRssMb = Math.round(s.hwmKb / 102.4) / 10;
      }
    }
  } finally {
    for (const server of started) await server.stop();
  }
  return { id: 'model-serving', title: 'Scenario 1: raw model serving, same model', sides };
}
