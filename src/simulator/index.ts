export {
  buildCity,
  DEFAULT_CENTER,
  DEFAULT_TIMEZONE,
  isOpen,
  type City,
  type CityOptions,
  type SimulatedStore,
} from './city.js';
export { simulatorConfigSchema, type SimulatorConfig } from './config.js';
export {
  generateHistory,
  type HistoryOptions,
  type SimulatedHistory,
  type SimulatedOrder,
} from './history.js';
export { LiveCity, type LiveCityOptions, type LiveEtaRequest } from './live.js';
export { LiveEvents, type LiveEventsOptions, type QuotedEta, type SimEvent } from './live-events.js';
export { OrderTable, OrderTableBuilder } from './order-table.js';
export { allocatePings, replayPings, type RiderLocationSink, type RiderPings } from './pings.js';
export { Rng } from './prng.js';
export { writeHistory } from './write-history.js';
export { historyApiEvents } from './api-events.js';
