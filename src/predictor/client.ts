import { HttpClient, type CallOptions } from '../platform/index.js';
import type { BatchEtaWireResponse } from './schemas.js';
import type { BatchEtaRequest, EtaRequest, EtaResult, Predictor } from './types.js';
import { asBatch, resultFromWire } from './wire.js';

/** A remote predictor replica, behind the same interface as the in-process one. */
export class PredictorClient implements Predictor {
  private readonly http: HttpClient;
  readonly hostHeader: string | undefined;

  constructor(
    readonly baseUrl: string,
    timeoutMs: number,
    options: {
      connections?: number;
      internalToken?: string;
      /**
       * The Host header when `baseUrl` names a resolved address of a discovered replica: the connection goes to
       * that address, the request still names the service.
       */
      hostHeader?: string;
    } = {},
  ) {
    this.hostHeader = options.hostHeader;
    this.http = new HttpClient({
      name: `predictor ${baseUrl}`,
      baseUrl,
      timeoutMs,
      connections: options.connections ?? 64,
      ...(options.internalToken ? { internalToken: options.internalToken } : {}),
    });
  }

  async predict(request: EtaRequest, call?: CallOptions): Promise<EtaResult> {
    const [result] = await this.predictBatch(asBatch(request), call);
    return result!;
  }

  /** The request goes as it is: the internal wire is the in-process `BatchEtaRequest` (predictor/schemas.ts). */
  async predictBatch(request: BatchEtaRequest, call?: CallOptions): Promise<EtaResult[]> {
    const withHost = this.hostHeader
      ? { ...call, headers: { ...call?.headers, host: this.hostHeader } }
      : call;
    const res = await this.http.request<BatchEtaWireResponse>(
      'POST',
      '/internal/predict/batch',
      request,
      withHost,
    );
    return res.results.map(resultFromWire);
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
