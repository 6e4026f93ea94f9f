import { HttpService } from '@nestjs/axios';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Readable } from 'node:stream';
import { callbacksConfig } from '../config/configuration';
import { PendingEvent } from './callback-events.repository';
import { parseRetryAfter } from './retry-schedule';
import { signatureHeader, Signers } from './signing';
import { callbackAgents, CallbackResolver, portAllowed } from './ssrf';

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
  if (code === 'EAI_AGAIN' || code === 'ETIMEOUT') return failed('DNS lookup failed temporarily');
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT')) {
    return { error: 'TLS failed', detail: 'TLS handshake failed' };
  }
  return failed('connection failed');
}

/**
 * The first RESPONSE_EXCERPT_BYTES of the answer, read for at most `ms` (a body may never end, or
 * trickle), then the connection is dropped: whatever its size, no more is read.
 */
function readExcerpt(stream: Readable, ms: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    // Whichever comes first: enough bytes, the end, an error (an answer cut short still has its
    // status code), or the deadline.
    const done = () => {
      clearTimeout(timer);
      stream.off('data', take);
      stream.destroy();
      resolve(Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES));
    };
    const take = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= RESPONSE_EXCERPT_BYTES) done();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    stream.on('data', take);
    stream.once('end', done);
    stream.once('error', done);
    stream.once('close', done);
  });
}

/**
 * What may be kept of a partner's answer: its bytes as text when they are plain UTF-8 text, else
 * nothing. An encoded body (gzip, brotli: sent although `identity` was asked for) is not decoded,
 * and bytes that are not text (NUL, other control characters, invalid UTF-8) are not kept:
 * Postgres `text` refuses NUL, and the excerpt is for reading.
 */
export function safeExcerpt(bytes: Buffer, contentEncoding?: string): string | null {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if ((encoding !== '' && encoding !== 'identity') || bytes.length === 0) return null;
  let text: string;
  try {
    // `stream`: a character cut at the excerpt's end is left out, not taken for invalid.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
  } catch {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? null : text;
}

/** One POST of an event's exact bytes, signed now, never following a redirect, never to a private address. */
@Injectable()
export class CallbackSender {
  private readonly agents: ReturnType<typeof callbackAgents>;

  constructor(
    private readonly http: HttpService,
    @Inject(callbacksConfig.KEY) private readonly config: ConfigType<typeof callbacksConfig>,
  ) {
    this.agents = callbackAgents(
      config.allowPrivateNetworks,
      new CallbackResolver(config.dnsServers),
    );
  }

  async send(event: PendingEvent, signers: Signers): Promise<AttemptResult> {
    const timestamp = Math.floor(Date.now() / 1000);
    if (signers.secrets.length === 0) {
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
    // One deadline for the whole attempt, the answer's body included.
    const deadline = Date.now() + this.config.timeoutMs;
    try {
      const response = await this.http.axiosRef.request<Readable>({
        method: 'POST',
        url: event.url,
        data: event.payload,
        headers: {
          'content-type': 'application/json',
          // Asked for as it is: an answer is never decoded here (an excerpt of an encoded one is
          // not kept at all).
          'accept-encoding': 'identity',
          'user-agent': USER_AGENT,
          'webhook-id': event.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader(signers, event.id, timestamp, event.payload),
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
      const excerpt = safeExcerpt(
        await readExcerpt(response.data, deadline - Date.now()),
        response.headers['content-encoding'] as string | undefined,
      );
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
