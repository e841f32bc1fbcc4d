import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  parseModel,
  SegmentedRanges,
  train,
  type Calibration,
  type FeatureSpec,
  type Model,
  type SegmentCalibration,
  type TrainingData,
  type TrainParams,
} from '../model/index.js';
import { csvCell, CsvError, numericColumn, readCsv, type CsvTable } from './csv.js';
import { printJson, printTable } from './output.js';

interface Out {
  log: (line: string) => void;
  error: (line: string) => void;
}

const TRAIN_USAGE = `Usage: etaserve model train --train FILE --valid FILE --target COLUMN --out MODEL.json [options]

  --objective squared|quantile   default squared (output p50)
  --quantiles 0.1,0.5,0.9        quantile levels, one booster each (default 0.1,0.5,0.9)
  --categorical COL,COL          columns holding categories (numeric codes or labels)
  --trees N                      maximum trees, default 1000 (early stopping: 50 rounds on --valid)
  --depth D                      default 6        --leaves N      default 2^depth
  --lr X                         default 0.05     --seed S        default 0
  --growth depthwise|leafwise    default depthwise
  --no-calibrate                 keep the raw quantile range (default: conformal calibration on --valid)
  --crossing-quantiles           one booster per quantile, as format 1 models (they can cross); default: the
                                 median, then each quantile as an offset from its neighbour (never cross)
  --segment-column COL           also calibrate the range per segment of COL (repeatable, or COL,COL: nested,
                                 the first column outermost), on --valid; predict then needs COL in its input
  --segment-min-rows N           validation rows a segment needs for its own correction (default 200; fewer:
                                 its parent's, then the pooled one)
  --json                         the result as one JSON document on stdout (progress on stderr), for scripts

Every column except the target is a feature; segment columns are categorical. Empty cells are missing values
(a segment left empty takes its parent's correction).`;
const PREDICT_USAGE = `Usage: etaserve model predict --model MODEL.json --input FILE [--out FILE]

Writes only the prediction columns (p50, or p10,p50,p90 ...) as CSV, to --out or standard output.
Input columns are matched to the model's features by name, in any order. MODEL.json may be an
etaserve artifact or an XGBoost JSON model. A model trained with --segment-column reads those columns too
and gives each row its segment's range (a label it never saw: the parent segment's).`;
const INSPECT_USAGE = `Usage: etaserve model inspect MODEL.json [--json]

Prints the feature spec, outputs, size (trees, leaves, depth), calibration (per segment when trained with
--segment-column) and feature importance (a table).
  --json   the same as one JSON document, for scripts`;
const USAGE = `Usage: etaserve model <train|predict|inspect> [options]   (each takes --help)

${TRAIN_USAGE}\n\n${PREDICT_USAGE}\n\n${INSPECT_USAGE}`;

class UsageError extends Error {}

function parse(
  args: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): { values: Record<string, string | string[] | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return {
      values: r.values as Record<string, string | string[] | boolean | undefined>,
      positionals: r.positionals,
    };
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function num(v: unknown, flag: string, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)))
    throw new UsageError(`${flag} must be ${integer ? 'an integer' : 'a number'}, got ${String(v)}`);
  return n;
}

/** Category labels become indices into `categories` (extended when `grow`); numeric cells stay codes. */
function categoricalColumn(table: CsvTable, col: number, categories: string[], grow: boolean): Float64Array {
  const raw = table.cells[col]!;
  const labelled = categories.length > 0 || raw.some((s) => s !== '' && !Number.isFinite(Number(s)));
  const out = new Float64Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const s = raw[i]!;
    if (s === '') out[i] = NaN;
    else if (!labelled) out[i] = Number(s);
    else {
      let k = categories.indexOf(s);
      if (k < 0 && grow) k = categories.push(s) - 1;
      out[i] = k; // -1: a label the model never saw
    }
  }
  return out;
}

function featureColumns(file: string, table: CsvTable, spec: FeatureSpec[], grow: boolean): Float64Array[] {
  const missing = spec.filter((s) => !table.header.includes(s.name)).map((s) => s.name);
  if (missing.length > 0)
    throw new UsageError(`${file}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  return spec.map((s) => {
    const col = table.header.indexOf(s.name);
    if (s.type === 'numeric') return numericColumn(file, table, col);
    s.categories ??= [];
    const out = categoricalColumn(table, col, s.categories, grow);
    if (s.categories.length === 0) delete s.categories;
    return out;
  });
}

/** Raw cells of named columns, trimmed: segment labels as written. */
function labelColumns(
  file: string,
  table: CsvTable,
  columns: readonly string[],
  why: string,
): Record<string, string[]> {
  const missing = columns.filter((c) => !table.header.includes(c));
  if (missing.length > 0)
    throw new UsageError(
      `${file}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (${why})`,
    );
  return Object.fromEntries(
    columns.map((c) => [c, table.cells[table.header.indexOf(c)]!.map((cell) => cell.trim())]),
  );
}

/** `--segment-column a --segment-column b,c` → [a, b, c], each once, in order. */
function segmentColumnsOf(v: unknown): string[] {
  const given = v === undefined ? [] : Array.isArray(v) ? (v as string[]) : [v as string];
  const columns = given.flatMap((g) => g.split(',').map((c) => c.trim())).filter((c) => c !== '');
  return [...new Set(columns)];
}

async function loadModelFile(file: string): Promise<Model> {
  const r = parseModel(await readFile(file, 'utf8'));
  if (!r.ok) throw new UsageError(`${file}: ${r.error.message}`);
  return r.value;
}

async function runTrain(args: string[], out: Out): Promise<number> {
  const { values: v } = parse(args, {
    train: { type: 'string' },
    valid: { type: 'string' },
    target: { type: 'string' },
    out: { type: 'string' },
    objective: { type: 'string' },
    quantiles: { type: 'string' },
    categorical: { type: 'string' },
    trees: { type: 'string' },
    depth: { type: 'string' },
    lr: { type: 'string' },
    seed: { type: 'string' },
    leaves: { type: 'string' },
    growth: { type: 'string' },
    'no-calibrate': { type: 'boolean' },
    'crossing-quantiles': { type: 'boolean' },
    'segment-column': { type: 'string', multiple: true },
    'segment-min-rows': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (v.help) return (out.log(TRAIN_USAGE), 0);
  // With --json, stdout holds the result document only; progress goes to stderr.
  const progress = v.json ? out.error : out.log;
  for (const k of ['train', 'valid', 'target', 'out'] as const)
    if (!v[k]) throw new UsageError(`--${k} is required`);
  const target = v.target as string;
  const trainFile = v.train as string;
  const validFile = v.valid as string;
  const trainTable = await readCsv(trainFile);
  if (!trainTable.header.includes(target)) throw new UsageError(`${trainFile}: no target column ${target}`);
  const cats = new Set((v.categorical as string | undefined)?.split(',').map((s) => s.trim()) ?? []);
  for (const c of cats)
    if (!trainTable.header.includes(c)) throw new UsageError(`${trainFile}: no column ${c} (--categorical)`);
  const segmentColumns = segmentColumnsOf(v['segment-column']);
  for (const c of segmentColumns) {
    if (c === target) throw new UsageError(`--segment-column ${c} is the target`);
    if (!trainTable.header.includes(c))
      throw new UsageError(`${trainFile}: no column ${c} (--segment-column)`);
    cats.add(c);
  }
  const objectiveName = (v.objective as string | undefined) ?? 'squared';
  if (
    segmentColumns.length > 0 &&
    (objectiveName !== 'quantile' || v['no-calibrate'] || v['crossing-quantiles'])
  )
    throw new UsageError(
      '--segment-column needs --objective quantile, with calibration and non-crossing quantiles',
    );
  const spec: FeatureSpec[] = trainTable.header
    .filter((h) => h !== target)
    .map((name) => ({ name, type: cats.has(name) ? 'categorical' : 'numeric' }));
  const data = (file: string, table: CsvTable, grow: boolean): TrainingData => {
    if (!table.header.includes(target)) throw new UsageError(`${file}: no target column ${target}`);
    const y = numericColumn(file, table, table.header.indexOf(target));
    const bad = y.findIndex((x) => Number.isNaN(x));
    if (bad >= 0) throw new CsvError(file, table.lines[bad]!, `target ${target} is empty`);
    return { spec, columns: featureColumns(file, table, spec, grow), target: y };
  };
  const trainData = data(trainFile, trainTable, true);
  const validTable = await readCsv(validFile);
  const validData: TrainingData = {
    ...data(validFile, validTable, false),
    // Labels as written: a label only the validation file has is a segment too.
    ...(segmentColumns.length > 0
      ? { segments: labelColumns(validFile, validTable, segmentColumns, '--segment-column') }
      : {}),
  };
  const objective = objectiveName;
  if (objective !== 'squared' && objective !== 'quantile')
    throw new UsageError(`--objective must be squared or quantile`);
  const params: Partial<TrainParams> = {
    objective,
    nTrees: num(v.trees, '--trees', true),
    maxDepth: num(v.depth, '--depth', true),
    maxLeaves: num(v.leaves, '--leaves', true),
    learningRate: num(v.lr, '--lr'),
    seed: num(v.seed, '--seed', true),
    growth: v.growth as TrainParams['growth'] | undefined,
    calibrate: !v['no-calibrate'],
    quantileMethod: v['crossing-quantiles'] ? 'independent' : 'offsets',
    segmentColumns,
    segmentMinRows: num(v['segment-min-rows'], '--segment-min-rows', true),
  };
  if (v.quantiles) params.quantiles = (v.quantiles as string).split(',').map((q) => num(q, '--quantiles')!);
  progress(
    `training on ${trainData.target.length} rows, ${spec.length} features; validating on ${validData.target.length} rows`,
  );
  const started = Date.now();
  const artifact = await train(trainData, validData, params, (p) => {
    if (p.iteration % 25 === 0) {
      progress(
        `${p.output} iteration ${p.iteration}: train ${p.trainLoss.toFixed(4)} valid ${p.validLoss?.toFixed(4)} (best ${p.bestIteration})`,
      );
    }
  });
  for (const m of artifact.metrics.outputs) {
    progress(
      `${m.name}: ${m.bestIteration + 1} trees, valid ${m.metric} ${m.validLoss?.toFixed(4)} (stopped after ${m.iterations})`,
    );
  }
  const c = artifact.calibration;
  if (c)
    progress(
      `calibrated ${c.lower}-${c.upper}: valid coverage ${c.validCoverageBefore.toFixed(3)} -> ${c.validCoverageAfter.toFixed(3)} (nominal ${c.nominal.toFixed(2)}, ${c.score === 'scaled' ? 'factor' : 'adjustment'} ${c.adjustment.toFixed(4)})`,
    );
  if (c?.segments) progress(segmentSummary(c.segments));
  await writeFile(v.out as string, JSON.stringify(artifact));
  const seconds = Number(((Date.now() - started) / 1000).toFixed(1));
  if (v.json) {
    printJson(
      {
        out: v.out,
        trainRows: trainData.target.length,
        validRows: validData.target.length,
        features: spec.length,
        outputs: artifact.metrics.outputs.map((m) => ({
          name: m.name,
          trees: m.bestIteration + 1,
          metric: m.metric,
          validLoss: m.validLoss ?? null,
        })),
        calibration: withoutScoreSketches(artifact.calibration),
        seconds,
      },
      out,
    );
    return 0;
  }
  const best = artifact.metrics.outputs
    .map((m) => `${m.name} valid ${m.metric} ${m.validLoss?.toFixed(4) ?? '-'}`)
    .join(', ');
  out.log(
    `done: wrote ${String(v.out)} (${artifact.metrics.outputs.length} output(s), ${spec.length} features, trained on ${trainData.target.length} rows; ${best}) in ${seconds.toFixed(1)} s`,
  );
  return 0;
}

async function runPredict(args: string[], out: Out): Promise<number> {
  const { values: v } = parse(args, {
    model: { type: 'string' },
    input: { type: 'string' },
    out: { type: 'string' },
  });
  if (v.help) return (out.log(PREDICT_USAGE), 0);
  if (!v.model || !v.input) throw new UsageError('--model and --input are required');
  const model = await loadModelFile(v.model as string);
  const table = await readCsv(v.input as string);
  const spec = model.spec.map((s) => ({ ...s, ...(s.categories ? { categories: [...s.categories] } : {}) }));
  const cols = featureColumns(v.input as string, table, spec, false);
  const nF = spec.length;
  const nOut = model.outputNames.length;
  const rows = new Float64Array(table.rows * nF);
  for (let f = 0; f < nF; f++) for (let i = 0; i < table.rows; i++) rows[i * nF + f] = cols[f]![i]!;
  const pred = new Float64Array(table.rows * nOut);
  model.predictBatch(rows, table.rows, pred);
  const ranges = SegmentedRanges.fromArtifact(model.artifact);
  if (ranges) {
    const labels = labelColumns(v.input as string, table, ranges.columns, 'a segment column of the model');
    const segment: Record<string, string> = {};
    for (let i = 0; i < table.rows; i++) {
      for (const c of ranges.columns) segment[c] = labels[c]![i]!;
      const row = pred.subarray(i * nOut, (i + 1) * nOut);
      ranges.correct(row, segment, row);
    }
  }
  const lines = [model.outputNames.map(csvCell).join(',')];
  for (let i = 0; i < table.rows; i++) {
    lines.push(
      Array.from(pred.subarray(i * nOut, (i + 1) * nOut), (x) => String(Number(x.toPrecision(10)))).join(','),
    );
  }
  if (v.out) {
    await writeFile(v.out as string, lines.join('\n') + '\n');
    out.error(`wrote ${table.rows} predictions to ${String(v.out)}`);
  } else for (const l of lines) out.log(l);
  return 0;
}

async function runInspect(args: string[], out: Out): Promise<number> {
  const { values: v, positionals } = parse(args, { json: { type: 'boolean' } });
  if (v.help) return (out.log(INSPECT_USAGE), 0);
  if (positionals.length !== 1) throw new UsageError('expected one MODEL.json');
  const model = await loadModelFile(positionals[0]!);
  const a = model.artifact;
  const leaves = a.trees.reduce((s, t) => s + t.left.filter((l) => l < 0).length, 0);
  const depthOf = (t: (typeof a.trees)[number], i = 0): number =>
    t.left[i]! < 0 ? 0 : 1 + Math.max(depthOf(t, t.left[i]!), depthOf(t, t.right[i]!));
  const maxDepth = Math.max(0, ...a.trees.map((t) => depthOf(t)));
  const gain = new Map(model.importance('gain').map((g) => [g.feature, g.value]));
  const split = new Map(model.importance('split').map((g) => [g.feature, g.value]));
  const total = [...gain.values()].reduce((s, x) => s + x, 0) || 1;
  const features = [...a.spec]
    .sort((x, y) => gain.get(y.name)! - gain.get(x.name)!)
    .map((s) => ({
      feature: s.name,
      type: s.type,
      categories: s.categories?.length ?? null,
      gainPercent: Number(((100 * gain.get(s.name)!) / total).toFixed(1)),
      splits: split.get(s.name) ?? 0,
    }));
  if (v.json) {
    printJson(
      {
        source: a.source ?? null,
        formatVersion: a.formatVersion,
        trainedAt: a.trainedAt,
        outputs: a.outputs.map((o) => ({ name: o.name, objective: o.objective, baseScore: o.baseScore })),
        size: { trees: a.trees.length, leaves, maxDepth },
        metrics: a.metrics.outputs,
        calibration: withoutScoreSketches(a.calibration),
        features,
      },
      out,
    );
    return 0;
  }
  out.log(
    `${a.source ? `imported from ${a.source.library} ${a.source.version ?? ''} (${a.source.objective ?? ''})` : `etaserve-gbdt v${a.formatVersion}, trained ${a.trainedAt}`}`,
  );
  out.log(
    `outputs: ${a.outputs.map((o) => `${o.name} (${o.objective}, base ${o.baseScore.toPrecision(6)})`).join(', ')}`,
  );
  out.log(`size: ${a.trees.length} trees, ${leaves} leaves, max depth ${maxDepth}`);
  for (const m of a.metrics.outputs)
    out.log(
      `metrics ${m.name}: best iteration ${m.bestIteration}, train ${m.metric} ${m.trainLoss.toFixed(4)}, valid ${m.validLoss?.toFixed(4) ?? '-'}`,
    );
  const cal = a.calibration;
  if (cal)
    out.log(
      `calibration: ${cal.method} ${cal.lower}-${cal.upper} ${cal.score === 'scaled' ? `×${cal.adjustment.toFixed(4)} around ${cal.center}` : `±${cal.adjustment.toFixed(4)}`}, valid coverage ${cal.validCoverageAfter.toFixed(3)}`,
    );
  if (cal?.segments) {
    out.log(segmentSummary(cal.segments));
    out.log('');
    printTable(
      cal.segments.cells.map((c) => ({
        segment: c.labels.length === 0 ? '(pooled)' : c.labels.join(' / '),
        rows: c.rows,
        source: c.source,
        factor: c.factor,
        before: c.coverageBefore,
        after: c.coverageAfter,
      })),
      [
        { key: 'segment', header: `SEGMENT (${cal.segments.columns.join(' / ')})` },
        { key: 'rows', header: 'VALID_ROWS', align: 'right' },
        { key: 'source', header: 'FACTOR_FROM' },
        { key: 'factor', header: 'FACTOR', align: 'right', format: (x) => (x as number).toFixed(3) },
        { key: 'before', header: 'COVERAGE_POOLED', align: 'right', format: (x) => (x as number).toFixed(3) },
        { key: 'after', header: 'COVERAGE', align: 'right', format: (x) => (x as number).toFixed(3) },
      ],
      out,
    );
  }
  out.log('');
  printTable(
    features,
    [
      { key: 'feature', header: 'FEATURE' },
      { key: 'type', header: 'TYPE' },
      { key: 'categories', header: 'CATEGORIES', align: 'right' },
      { key: 'gainPercent', header: 'GAIN_%', align: 'right', format: (g) => (g as number).toFixed(1) },
      { key: 'splits', header: 'SPLITS', align: 'right' },
    ],
    out,
  );
  return 0;
}

/** One line about per-segment calibration. */
function segmentSummary(s: SegmentCalibration): string {
  const cells = s.cells.filter((c) => c.labels.length > 0);
  const own = cells.filter((c) => c.source === 'own');
  const factors = own.map((c) => c.factor);
  const range =
    factors.length > 0
      ? `, factors ${Math.min(...factors).toFixed(3)}-${Math.max(...factors).toFixed(3)}`
      : '';
  return `segments by ${s.columns.join(' / ')}: ${cells.length} cells, ${own.length} with their own factor (>= ${s.minRows} valid rows), ${cells.length - own.length} from their parent${range}`;
}

/** The calibration record for people and scripts: the score sketches kept for online adaptation are noise here. */
function withoutScoreSketches(c: Calibration | null): unknown {
  if (!c?.segments) return c ?? null;
  return {
    ...c,
    segments: { ...c.segments, cells: c.segments.cells.map(({ scores: _scores, ...cell }) => cell) },
  };
}

const SUBCOMMANDS: Record<string, (args: string[], out: Out) => Promise<number>> = {
  train: runTrain,
  predict: runPredict,
  inspect: runInspect,
};

export async function runModelCommand(args: string[], out: Out): Promise<number> {
  const [sub, ...rest] = args;
  const run = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!run) {
    (sub === '--help' || sub === '-h' ? out.log : out.error)(USAGE);
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  try {
    return await run(rest, out);
  } catch (e) {
    if (e instanceof UsageError || e instanceof CsvError) {
      out.error(`etaserve model ${sub}: ${e.message}`);
      return e instanceof UsageError ? 2 : 1;
    }
    if (e instanceof RangeError || (e as NodeJS.ErrnoException).code === 'ENOENT') {
      out.error(`etaserve model ${sub}: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}
