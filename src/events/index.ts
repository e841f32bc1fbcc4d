export { parseJsonArrayBody, parseNdjsonBody, type EventBatch } from './body.js';
export { eventsConfigSchema, type EventsConfig } from './config.js';
export { FileEventLog, type FileLogOptions } from './file-log.js';
export { followForgets, type ForgetFollower } from './forget-journal.js';
export { startProjection, type ProjectionOptions } from './projection.js';
export { EventIngest, parseNdjson, type IngestAnswer, type IngestRejection, type RawItem } from './ingest.js';
export { MemoryEventLog } from './memory-log.js';
export {
  appenderOf,
  createEventsModule,
  eventsDir,
  eventBackend,
  eventsModule,
  openEventLog,
  type EventsModule,
  type EventsModuleOptions,
  type EventsProvides,
  type LogProjections,
} from './module.js';
export { RedisEventLog, type RedisLogOptions } from './redis-log.js';
export { CURRENT_SCHEMA_VERSION, EVENT_SCHEMAS_V1 } from './schemas.js';
export {
  ORDER_EVENT_TYPES,
  type AppendResult,
  type EncodedEvents,
  type EtaEvent,
  type EventLog,
  type EventType,
  type ForgetEntry,
  type ForgetHook,
  type ForgetJournal,
  type ForgetRequest,
  type ForgetResult,
  type LogOffset,
  type LogRecord,
  type LogStats,
  type OrderCreatedEvent,
  type OrderEventType,
  type OrderStepEvent,
  type ReadResult,
  type RecordHandler,
  type RetentionResult,
  type RiderLocationEvent,
  type StartAt,
  type SubscribeOptions,
  type Subscription,
} from './types.js';
export { EventValidator, isIsoWithOffset, type RejectCode, type Rejection } from './validate.js';
