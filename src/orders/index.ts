export {
  OrderBook,
  STAGES,
  isFinal,
  type OrderLife,
  type Quote,
  type RiderPosition,
  type Stage,
} from './book.js';
export { OrdersClient } from './client.js';
export { ordersConfigSchema, type OrdersConfig } from './config.js';
export { normalCdf, QuantileDistribution } from './distribution.js';
export {
  LiveEtaTracker,
  quoteOnly,
  type LiveEta,
  type OrderContext,
  type Remaining,
  type RemainingTimeModel,
  type SmoothingPolicy,
} from './live-eta.js';
export { ordersModule, STREAM_LIMITS, type OrdersProvides } from './module.js';
export {
  orderEtaAnswer,
  orderRoutes,
  ordersInternalRoutes,
  type OrderEtas,
  type OrderEtaAnswer,
} from './routes.js';
export { OrdersService } from './service.js';
export * from './legs/index.js';
export * from './webhooks/index.js';
