import { Type } from 'typebox';
import { parseJsonArrayBody, parseNdjsonBody, type EventBatch, type EventIngest } from '../events/index.js';
import { ErrorBody, EtaError, type HttpServer, type Routes } from '../platform/index.js';
import type { PreHandler } from './auth.js';

export interface EventRouteDeps {
  ingest: EventIngest;
  authorizeEvents: PreHandler;
  authorizeAdmin: PreHandler;
  maxBatchBytes: number;
  /** The online accuracy summary for the console (`GET /v1/admin/accuracy`); absent when not computed here. */
  accuracy?: () => unknown;
}

const IngestAnswer = Type.Object({
  accepted: Type.Integer({ description: 'Events durably written now' }),
  duplicates: Type.Integer({
    description: 'Valid events whose event_id was already in the log (a replay): nothing changed',
  }),
  rejected: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'Position in the batch (NDJSON: among non-blank lines), from 0' }),
      code: Type.String({
        description:
          'missing_field, invalid_type, invalid_value, unknown_type, bad_timestamp, too_large, ...',
      }),
      message: Type.String(),
      field: Type.Optional(Type.String()),
    }),
  ),
});

/**
 * `POST /v1/events`: a JSON array or NDJSON (`application/x-ndjson`) of events. Answers 200 with what was accepted,
 * what was a duplicate and what was refused (one by one, with a reason), only after the accepted ones are durable.
 */
export function eventRoutes(deps: EventRouteDeps): Routes {
  const plugin = async (app: HttpServer): Promise<void> => {
    // The body's bytes, not a parsed tree: each event is stored as it came, never serialised a second time.
    // Encapsulated: only the routes of this plugin parse JSON this way.
    app.removeContentTypeParser('application/json');
    for (const [type, split] of [
      ['application/json', parseJsonArrayBody],
      ['application/x-ndjson', parseNdjsonBody],
    ] as const) {
      app.addContentTypeParser(
        type,
        { parseAs: 'buffer', bodyLimit: deps.maxBatchBytes },
        (_req, body, done) => {
          try {
            done(null, split(body as Buffer));
          } catch (e) {
            done(e as Error, undefined);
          }
        },
      );
    }

    app.post(
      '/v1/events',
      {
        onRequest: deps.authorizeEvents,
        bodyLimit: deps.maxBatchBytes,
        schema: {
          summary:
            'Send order, rider and app events (a JSON array, or NDJSON with content-type application/x-ndjson)',
          description:
            'Each event: {event_id (≤128 chars), type, occurred_at (ISO 8601 with offset), ...fields of its type}. Bad events are rejected alone; the rest are acknowledged after they are durably written. A replayed event_id is counted as a duplicate and changes nothing.',
          security: [{ bearer: [] }],
          response: { 200: IngestAnswer, 400: ErrorBody, 413: ErrorBody, 503: ErrorBody },
        },
      },
      async (req) => {
        const batch = req.body as EventBatch | undefined;
        if (!batch?.values) {
          throw new EtaError(
            'bad_request',
            'the body is a JSON array of events, or NDJSON with content-type application/x-ndjson',
            { field: 'body' },
          );
        }
        return deps.ingest.ingestBatch(batch);
      },
    );

    app.get(
      '/v1/admin/accuracy',
      {
        onRequest: deps.authorizeAdmin,
        schema: {
          summary:
            'Online accuracy: quoted ETAs joined with actual deliveries, by model version, hour and zone',
          security: [{ bearer: [] }],
        },
      },
      async () => {
        if (!deps.accuracy)
          throw new EtaError('not_found', 'online accuracy is not computed in this process');
        return deps.accuracy();
      },
    );
  };
  return plugin;
}
