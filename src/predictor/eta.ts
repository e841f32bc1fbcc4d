import {
  buildFeatureVector,
  daypart,
  FEATURE_COUNT,
  FEATURE_NAMES,
  haversineKm,
  storeZone,
  type LatLng,
  type StoreSnapshot,
  type TripSnapshot,
} from '../features/index.js';
import type { GeoFeatures, TripEstimate, TripOrigin } from '../geo/index.js';
import {
  Counter,
  counterSeries,
  currentContext,
  EtaError,
  Histogram,
  histogramSeries,
  LATENCY_BUCKETS,
  requireWithin,
  throttledWarn,
  type CounterSeries,
  type HistogramSeries,
  type Logger,
  type Metrics,
  withContext,
} from '../platform/index.js';
import { OnlineSegmentedRanges, type SegmentKey } from '../model/index.js';
import {
  isOpen,
  type FeatureCache,
  type Store,
  type StoreFeatureRecord,
  type StoreFeatures,
} from '../store/index.js';
import type { DriftMonitor } from './drift.js';
import type { ActiveModel, ModelRuntime } from './model-runtime.js';
import type { Rollout } from './rollout.js';
import {
  fallbackRange,
  fromTheRide,
  implausible,
  outOfArea,
  prepPlusRide,
  unservable,
  type DegradedReason,
} from './servable.js';
import type { BatchEtaRequest, EtaRequest, EtaResult, Predictor } from './types.js';

/** Used only when geo cannot answer: a straight line with a detour factor at a cautious city speed. */
const FALLBACK_DETOUR = 1.3;
const FALLBACK_SPEED_KMH = 18;
const FALLBACK_OVERHEAD_S = 240;

const HOUR_LOCAL = FEATURE_NAMES.indexOf('hour_local');

/**
 * p10, p50, p90 of one row. A model calibrated per segment serves its segment's range: the static factor of the
 * (zone, daypart) cell times the online state's multiplier, scaled around the median, so lower ≤ p50 ≤ upper
 * (docs/model.md, "Serving"). Quantile models trained apart can cross; sorting them (rearrangement) never makes
 * the quantile estimates worse. A model without quantile heads gets a fixed relative range.
 */
function quantiles(
  out: Float64Array,
  at: number,
  active: ActiveModel,
  segment: SegmentKey,
): [number, number, number] {
  if (active.ranges) {
    const online = (active.online ??= new OnlineSegmentedRanges(active.ranges));
    const quote = online.quote(out.subarray(at, at + active.model.outputNames.length), segment);
    return [quote.lower, quote.median, quote.upper];
  }
  const p50 = out[at + active.p50]!;
  const wide = active.p10 >= 0 && active.p90 >= 0 ? undefined : fallbackRange(p50);
  const low = active.p10 >= 0 ? out[at + active.p10]! : wide!.p10;
  const high = active.p90 >= 0 ? out[at + active.p90]! : wide!.p90;
  const sorted = [low, p50, high].sort((a, b) => a - b);
  return [sorted[0]!, sorted[1]!, sorted[2]!];
}

/** A store as geo sees it. */
function originOf(store: Pick<StoreFeatureRecord, 'storeId' | 'location' | 'deliveryRadiusKm'>): TripOrigin {
  return { id: store.storeId, location: store.location, radiusKm: store.deliveryRadiusKm };
}

/** Whether geo was asked about exactly the stores served, where they are. */
function sameOrigins(origins: TripOrigin[], servable: Array<{ store: StoreFeatureRecord }>): boolean {
  if (origins.length !== servable.length) return false;
  return servable.every(({ store }, i) => {
    const o = origins[i]!;
    return (
      o.id === store.storeId &&
      o.location.lat === store.location.lat &&
      o.location.lng === store.location.lng &&
      o.radiusKm === store.deliveryRadiusKm
    );
  });
}

export function fallbackTrip(id: string, from: LatLng, to: LatLng, radiusKm: number): TripEstimate {
  const distanceKm = haversineKm(from, to);
  return {
    id,
    distanceKm,
    travelSeconds: FALLBACK_OVERHEAD_S + ((distanceKm * FALLBACK_DETOUR) / FALLBACK_SPEED_KMH) * 3600,
    zoneSpeedKmh: FALLBACK_SPEED_KMH,
    ridersAvailable: null,
    withinRadius: distanceKm <= radiusKm,
  };
}

/**
 * ETA serving: store and geo features fetched in parallel under a deadline, one feature vector per store built
 * with the shared definition, one vectorised model call for the whole batch.
 */
export class EtaPredictor implements Predictor {
  private readonly stage: Record<'features' | 'model' | 'total', HistogramSeries>;
  private readonly degraded: Counter<'reason'>;
  private readonly degradedBy = new Map<string, CounterSeries>();
  /**
   * Feature rows and model outputs, reused by every call: each is filled and read in one synchronous stretch, and
   * whoever keeps rows or outputs past the call (shadow scoring, explanations) copies them.
   */
  private rowsBuffer = new Float64Array(FEATURE_COUNT * 16);
  private outBuffer = new Float64Array(64);
  /** Each store's zone (an H3 cell of its location), the first segment column of its range. */
  private readonly zones = new Map<string, { lat: number; lng: number; zone: string }>();

  /** Per request under a geo fault: at most once a second (throttledWarn). */
  private readonly warnGeo: ReturnType<typeof throttledWarn>;
  /** Per answer the model got wrong beyond reason: at most once a second. */
  private readonly warnModel: ReturnType<typeof throttledWarn>;

  constructor(
    private readonly deps: {
      runtime: ModelRuntime;
      stores: StoreFeatures;
      /** Store features through the caches, with last known values when the store service is down. */
      features?: FeatureCache;
      geo: GeoFeatures;
      featureDeadlineMs: number;
      logger: Logger;
      metrics: Metrics;
      /** Canary (who answers) and shadow (the other model scores a sample off the response path). */
      rollout?: Rollout;
      /** Live feature distribution against the champion's training data. */
      drift?: DriftMonitor;
    },
  ) {
    this.warnGeo = throttledWarn(deps.logger);
    this.warnModel = throttledWarn(deps.logger);
    const stage = new Histogram({
      name: 'etaserve_predict_stage_seconds',
      help: 'Time per prediction stage (features, model, total)',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS,
      registers: [deps.metrics.registry],
    });
    this.stage = {
      features: histogramSeries(stage, { stage: 'features' }),
      model: histogramSeries(stage, { stage: 'model' }),
      total: histogramSeries(stage, { stage: 'total' }),
    };
    this.degraded = new Counter({
      name: 'etaserve_degraded_predictions_total',
      help: 'Predictions answered with degraded features, by reason',
      labelNames: ['reason'],
      registers: [deps.metrics.registry],
    });
  }

  /** Off the hot path: one request's answer with the exact feature vector and model behind it. */
  async predictWithRow(
    request: EtaRequest,
  ): Promise<{ result: EtaResult; row?: Float64Array; active?: ActiveModel }> {
    let captured: { row: Float64Array; active: ActiveModel } | undefined;
    const [result] = await this.predictBatch({ ...request, storeIds: [request.storeId] }, (row, active) => {
      captured = { row: row.slice(), active };
    });
    return { result: result!, ...captured };
  }

  async predict(request: EtaRequest): Promise<EtaResult> {
    const [result] = await this.predictBatch({ ...request, storeIds: [request.storeId] });
    return result!;
  }

  /** `onRow` sees each in-area store's feature vector and the model that scored it (explanations only). */
  async predictBatch(
    request: BatchEtaRequest,
    onRow?: (row: Float64Array, active: ActiveModel) => void,
  ): Promise<EtaResult[]> {
    const started = performance.now();
    // The geo call comes after an await: it carries this request's trace explicitly.
    const trace = currentContext();
    const active = this.deps.runtime.active;
    if (!active) throw new EtaError('model_not_loaded', 'no model is loaded yet');
    const { featureDeadlineMs } = this.deps;
    // Geo needs only each store's location: it is asked as soon as the profiles are known (at once from L1), for
    // the stores open at the order time, alongside their live state.
    let early: { origins: TripOrigin[]; trips: Promise<TripEstimate[] | Error> } | undefined;
    const onProfiles = (profiles: ReadonlyMap<string, Store>): void => {
      const origins: TripOrigin[] = [];
      for (const id of request.storeIds) {
        const profile = profiles.get(id);
        if (profile && isOpen(profile, request.orderedAtMs)) origins.push(originOf(profile));
      }
      if (origins.length > 0)
        early = { origins, trips: withContext(trace, () => this.trips(request, origins)) };
    };
    const { records: stores, degradedReasons } = this.deps.features
      ? await this.deps.features.storeFeatures(request.storeIds, request.orderedAtMs, {
          deadlineMs: featureDeadlineMs,
          onProfiles,
        })
      : {
          records: await requireWithin(
            this.deps.stores.getStoreFeatures(request.storeIds, request.orderedAtMs),
            featureDeadlineMs,
            'store features',
          ),
          degradedReasons: [],
        };

    const results: EtaResult[] = new Array<EtaResult>(request.storeIds.length);
    const servable: Array<{ index: number; store: StoreFeatureRecord }> = [];
    for (let index = 0; index < request.storeIds.length; index++) {
      const storeId = request.storeIds[index]!;
      const store = stores.get(storeId);
      const refusal = unservable(storeId, store);
      if (refusal) results[index] = { ok: false, error: refusal };
      else servable.push({ index, store: store! });
    }
    if (servable.length === 0) return results;

    const reasons: DegradedReason[] = degradedReasons.length > 0 ? [...degradedReasons] : [];
    for (const reason of degradedReasons) this.countDegraded(reason);
    let trips: TripEstimate[];
    // An early call asked about other stores than those served settles on its own: it never rejects.
    const answer =
      early && sameOrigins(early.origins, servable)
        ? await early.trips
        : await withContext(trace, () =>
            this.trips(
              request,
              servable.map(({ store }) => originOf(store)),
            ),
          );
    if (answer instanceof Error) {
      this.warnGeo({ err: answer }, 'geo unavailable: straight-line estimates');
      reasons.push('geo_unavailable');
      this.countDegraded('geo_unavailable');
      trips = servable.map(({ store }) =>
        fallbackTrip(store.storeId, store.location, request.destination, store.deliveryRadiusKm),
      );
    } else trips = answer;
    const featuresDone = performance.now();

    if (this.rowsBuffer.length < servable.length * FEATURE_COUNT)
      this.rowsBuffer = new Float64Array(servable.length * FEATURE_COUNT);
    const rows = this.rowsBuffer.subarray(0, servable.length * FEATURE_COUNT);
    const order = { orderedAtMs: request.orderedAtMs, items: request.items, subtotal: request.subtotal };
    const inArea: number[] = [];
    servable.forEach(({ index, store }, i) => {
      const trip = trips[i]!;
      if (!trip.withinRadius) {
        results[index] = {
          ok: false,
          error: outOfArea(store.storeId, trip.distanceKm, store.deliveryRadiusKm),
        };
        return;
      }
      const snapshot: StoreSnapshot = {
        category: store.category,
        timezone: store.timezone,
        prepMeanSeconds: store.prepMeanSeconds,
        prepEwmaSeconds: store.prepEwmaSeconds,
        ordersInKitchen: store.ordersInKitchen,
      };
      const tripSnapshot: TripSnapshot = trip;
      buildFeatureVector(
        order,
        snapshot,
        tripSnapshot,
        rows.subarray(inArea.length * FEATURE_COUNT, (inArea.length + 1) * FEATURE_COUNT),
      );
      inArea.push(i);
    });
    if (inArea.length === 0) return results;

    const serving = this.deps.rollout?.choose(active) ?? active;
    const { model } = serving;
    const width = model.outputNames.length;
    if (this.outBuffer.length < inArea.length * width)
      this.outBuffer = new Float64Array(inArea.length * width);
    const out = this.outBuffer.subarray(0, inArea.length * width);
    model.predictBatch(rows.subarray(0, inArea.length * FEATURE_COUNT), inArea.length, out);
    if (onRow)
      for (let r = 0; r < inArea.length; r++)
        onRow(rows.subarray(r * FEATURE_COUNT, (r + 1) * FEATURE_COUNT), serving);
    const modelDone = performance.now();
    this.deps.drift?.observe(rows, inArea.length);
    this.deps.rollout?.after(
      {
        storeIds: inArea.map((i) => servable[i]!.store.storeId),
        orderedAtMs: request.orderedAtMs,
        destination: request.destination,
        rows,
        n: inArea.length,
        width: FEATURE_COUNT,
        out,
        served: serving,
      },
      active,
    );

    inArea.forEach((i, row) => {
      const { index, store } = servable[i]!;
      const trip = trips[i]!;
      const segment = {
        zone: this.zoneOf(store),
        daypart: daypart(rows[row * FEATURE_COUNT + HOUR_LOCAL]!),
      };
      const [p10, p50, p90] = quantiles(out, row * width, serving, segment);
      let range = fromTheRide({ p10, p50, p90 }, trip.travelSeconds);
      let why = reasons;
      if (implausible(range, trip.travelSeconds)) {
        this.warnModel(
          {
            storeId: store.storeId,
            p10,
            p50,
            p90,
            travelSeconds: trip.travelSeconds,
            modelVersion: serving.version,
          },
          'the model answered an ETA no order could meet: serving the fallback estimate',
        );
        this.countDegraded('model_implausible');
        range = prepPlusRide(store, trip.travelSeconds);
        why = [...reasons, 'model_implausible'];
      }
      results[index] = {
        ok: true,
        value: {
          storeId: store.storeId,
          ...range,
          prepSeconds: store.prepEwmaSeconds ?? store.prepMeanSeconds,
          travelSeconds: trip.travelSeconds,
          distanceKm: trip.distanceKm,
          timezone: store.timezone,
          modelVersion: serving.version,
          degraded: why.length > 0,
          degradedReasons: why,
        },
      };
    });
    this.stage.features.observe((featuresDone - started) / 1000);
    this.stage.model.observe((modelDone - featuresDone) / 1000);
    this.stage.total.observe((performance.now() - started) / 1000);
    return results;
  }

  /** Geo's trips under the feature deadline; its failure as a value, so a call started early never goes unhandled. */
  private trips(request: BatchEtaRequest, origins: TripOrigin[]): Promise<TripEstimate[] | Error> {
    return requireWithin(
      this.deps.geo.trips(request.destination, origins, request.orderedAtMs),
      this.deps.featureDeadlineMs,
      'geo features',
    ).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  }

  private zoneOf(store: StoreFeatureRecord): string {
    const { lat, lng } = store.location;
    const known = this.zones.get(store.storeId);
    if (known && known.lat === lat && known.lng === lng) return known.zone;
    // Bounded like the catalog: a city's stores, not a growing key space.
    if (!known && this.zones.size >= 100_000) this.zones.clear();
    const zone = storeZone(store.location);
    this.zones.set(store.storeId, { lat, lng, zone });
    return zone;
  }

  /** Reasons are a short closed list (`geo_unavailable`, `store_features_stale`, ...), so series stay few. */
  private countDegraded(reason: string): void {
    let series = this.degradedBy.get(reason);
    if (!series) {
      series = counterSeries(this.degraded, { reason });
      this.degradedBy.set(reason, series);
    }
    series.inc();
  }
}
