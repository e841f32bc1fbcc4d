/**
 * Scenario 1's targets, judged from one run: PASS or MISS and by how much, or PENDING while a side is missing.
 */
import type { Endpoint, ModelServingResult, SideResult } from './scenarios/model-serving.js';

export interface Verdict {
  target: string;
  status: 'PASS' | 'MISS' | 'PENDING';
  detail: string;
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${Math.round(x * 100)}%`;

function ratioVerdict(target: string, eta: number, peer: number, needed: number, unit: string): Verdict {
  if (!(peer > 0)) return { target, status: 'PENDING', detail: `peer figure missing (${peer} ${unit})` };
  const ratio = eta / peer;
  const r = Math.round(ratio * 100) / 100;
  return ratio >= needed
    ? {
        target,
        status: 'PASS',
        detail: `x${r} (${eta} vs ${peer} ${unit}); ${pct(ratio / needed - 1)} over x${needed}`,
      }
    : {
        target,
        status: 'MISS',
        detail: `x${r} (${eta} vs ${peer} ${unit}); ${pct(ratio / needed - 1)} short of x${needed}`,
      };
}

function usable(s: SideResult): boolean {
  return s.status === 'ok';
}

export function scenario1Verdicts(
  r: ModelServingResult,
  cfg: { singleThroughputRatio: number; batchRowsRatio: number },
): Verdict[] {
  const { peer, etaserve } = r.sides;
  const targets = {
    single: `single-row max throughput >= ${cfg.singleThroughputRatio}x the peer's`,
    batch: `batch (50) rows/s at max >= ${cfg.batchRowsRatio}x the peer's`,
    p99: 'lower p99 than the peer at every fixed rate the peer sustains',
  };
  if (!usable(peer) || !usable(etaserve)) {
    const why = !usable(etaserve) ? `etaserve side ${etaserve.status}` : `peer side ${peer.status}`;
    return Object.values(targets).map((target) => ({ target, status: 'PENDING' as const, detail: why }));
  }
  const searched = peer.search.single !== undefined && etaserve.search.single !== undefined;
  const out: Verdict[] = !searched
    ? [targets.single, targets.batch].map((target) => ({
        target,
        status: 'PENDING' as const,
        detail: 'max-rate search not run (--no-search)',
      }))
    : [
        ratioVerdict(
          targets.single,
          etaserve.search.single?.maxRate ?? 0,
          peer.search.single?.maxRate ?? 0,
          cfg.singleThroughputRatio,
          'req/s',
        ),
        ratioVerdict(
          targets.batch,
          etaserve.search.batch?.rowsPerSec ?? 0,
          peer.search.batch?.rowsPerSec ?? 0,
          cfg.batchRowsRatio,
          'rows/s',
        ),
      ];
  const misses: string[] = [];
  const compared: string[] = [];
  for (const p of peer.fixed.filter((f) => f.sustained)) {
    const e = etaserve.fixed.find((f) => f.endpoint === p.endpoint && f.rate === p.rate);
    const label = `${p.endpoint as Endpoint}@${p.rate}`;
    if (!e) {
      misses.push(`${label}: no etaserve run`);
      continue;
    }
    const ep99 = e.result.latency.p99;
    const pp99 = p.result.latency.p99;
    compared.push(`${label} ${ep99} vs ${pp99} ms`);
    if (!e.sustained || !(ep99 < pp99)) {
      misses.push(`${label}: ${ep99} vs ${pp99} ms${e.sustained ? '' : ` (${e.reasons.join('; ')})`}`);
    }
  }
  out.push(
    compared.length === 0
      ? { target: targets.p99, status: 'PENDING', detail: 'the peer sustained none of the fixed rates' }
      : misses.length === 0
        ? { target: targets.p99, status: 'PASS', detail: compared.join('; ') }
        : {
            target: targets.p99,
            status: 'MISS',
            detail: `missed at ${misses.join('; ')} (all: ${compared.join('; ')})`,
          },
  );
  return out;
}
