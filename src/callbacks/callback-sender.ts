import { HttpService } from '@nestjs/axios';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Readable } from 'node:stream';
import { callbacksConfig } from '../config/configuration';
import { PendingEvent } from './callback-events.repository';
import { parseRetryAfter } from './retry-schedule';
import { signatureHeader } from './signing';
import { callbackAgents, portAllowed } from './ssrf';

/** How much of a partner's answer is read and kept: enough to debug, never a whole page. */
const RESPONSE_EXCERPT_BYTES = 1024;
const USER_AGENT = 'orders-reports-callbacks/1.0 (+Standard Webhooks)';

export interface AttemptResult {
  statusCode: number | null;
  /**
   * What the client reads in its attempts log: null (delivered), `HTTP <status>`, or a coarse class
   * of failure ('connection failed', 'timed out', 'TLS failed'), never finer, so that callbacks tell
   * nobody how another host's ports answer.
   */
  error: string | null;
  /** The failure in our own, finer words, for the service's own log line. */
  detail: string | null;
  excerpt: string | null;
  retryAfterSeconds?: number;
}

/** A failed connection: its coarse class for the client, and our own finer words for the log. */
export function describeFailure(
  error: unknown,
  timeoutMs: number,
): { error: string; detail: string } {
  const { code, name, message } = (error ?? {}) as {
    code?: string;
    name?: string;
    message?: string;
  };
  const failed = (detail: string) => ({ error: 'connection failed', detail });
  if (
    name === 'AbortError' ||
    name === 'CanceledError' ||
    code === 'ECONNABORTED' ||
    code === 'ETIMEDOUT' ||
    code === 'ERR_CANCELED'
  ) {
    return { error: 'timed out', detail: `timed out after ${timeoutMs} ms` };
  }
  if (/is not allowed|private|DNS lookup .* not allowed/i.test(message ?? '')) {
    return failed('blocked: the host resolves to a private, loopback or reserved address');
  }
  if (code === 'ECONNREFUSED') return failed('connection refused');
  if (code === 'ECONNRESET' || code === 'EPIPE') return failed('connection reset');
  if (code === 'ENOTFOUND') return failed('host not found');
  if (code === 'EAI_AGAIN') return failed('DNS lookup failed temporarily');
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT')) {
    return { error: 'TLS failed', detail: 'TLS handshake failed' };
  }
  return failed('connection failed');
}

async function readExcerpt(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= RESPONSE_EXCERPT_BYTES) break;
    }
  } catch {
    // An answer cut short still has a status code; the excerpt is only for debugging.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
}

/** One POST of an event's exact bytes, signed now, never following a redirect, never to a private address. */
@Injectable()
export class CallbackSender {
  private readonly agents: ReturnType<typeof callbackAgents>;

  constructor(
    private readonly http: HttpService,
    @Inject(callbacksConfig.KEY) private readonly config: ConfigType<typeof callbacksConfig>,
  ) {
    this.agents = callbackAgents(config.allowPrivateNetworks);
  }

  async send(event: PendingEvent, secrets: string[]): Promise<AttemptResult> {
    const timestamp = Math.floor(Date.now() / 1000);
    if (secrets.length === 0) {
      const error =
        'no usable webhook secret (none, or not readable with WEBHOOK_SECRETS_KEY): ' +
        'rotate one with POST /v1/webhook-secret/rotate';
      return { statusCode: null, error, detail: error, excerpt: null };
    }
    if (!portAllowed(event.url, this.config.allowedPorts)) {
      // Allowed when it was asked for, and CALLBACK_ALLOWED_PORTS changed since.
      return {
        statusCode: null,
        error: 'connection failed',
        detail: 'port not allowed',
        excerpt: null,
      };
    }
    try {
      const response = await this.http.axiosRef.request<Readable>({
        method: 'POST',
        url: event.url,
        data: event.payload,
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'webhook-id': event.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader(secrets, event.id, timestamp, event.payload),
        },
        transformRequest: [(data: string) => data],
        responseType: 'stream',
        decompress: false,
        maxRedirects: 0,
        validateStatus: () => true,
        timeout: this.config.timeoutMs,
        signal: AbortSignal.timeout(this.config.timeoutMs),
        httpAgent: this.agents.httpAgent,
        httpsAgent: this.agents.httpsAgent,
        proxy: false,
      });
      const excerpt = await readExcerpt(response.data);
      const statusCode = response.status;
      const retryAfter = response.headers['retry-after'] as string | undefined;
      const delivered = statusCode >= 200 && statusCode < 300;
      return {
        statusCode,
        excerpt,
        retryAfterSeconds: parseRetryAfter(retryAfter),
        error: delivered ? null : `HTTP ${statusCode}`,
        detail:
          statusCode >= 300 && statusCode < 400 ? `redirect (${statusCode}) not followed` : null,
      };
    } catch (error) {
      return { statusCode: null, ...describeFailure(error, this.config.timeoutMs), excerpt: null };
    }
  }
}
