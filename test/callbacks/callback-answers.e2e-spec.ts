import { createServer, IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { call, newClient, startApp, TestApp } from '../support/harness';
import { eventually } from '../support/receiver';

/** An HTML error page as a proxy in front of a partner serves it. */
const ERROR_PAGE = Buffer.from(
  `<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>` +
    `</center><hr><center>nginx</center>${' '.repeat(600)}</body></html>`,
);
/** Bytes that are not text: NULs, and sequences that are not UTF-8. */
const BINARY = Buffer.concat([
  Buffer.from([0x00, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0x00]),
  Buffer.alloc(64, 0),
]);

/** How a partner answers a failed attempt: its bytes, headers and manner, the way real servers do. */
type ErrorAnswer = (response: ServerResponse) => void;

const answers: Record<string, ErrorAnswer> = {
  // nginx with `gzip on` compresses whatever it is configured to, whatever the request asked for.
  gzip: (response) =>
    response
      .writeHead(502, { 'content-type': 'text/html', 'content-encoding': 'gzip' })
      .end(gzipSync(ERROR_PAGE)),
  brotli: (response) =>
    response
      .writeHead(502, { 'content-type': 'text/html', 'content-encoding': 'br' })
      .end(brotliCompressSync(ERROR_PAGE)),
  binary: (response) =>
    response.writeHead(502, { 'content-type': 'application/octet-stream' }).end(BINARY),
  'invalid UTF-8 text': (response) =>
    response
      .writeHead(502, { 'content-type': 'text/plain; charset=utf-8' })
      .end(Buffer.from([0x65, 0x72, 0x72, 0xc3, 0x28, 0x6f, 0x72])),
  // Promises a body, sends part of it, and closes the connection.
  'closed mid-answer': (response) => {
    response.writeHead(502, { 'content-type': 'text/html', 'content-length': '100000' });
    response.write(ERROR_PAGE.subarray(0, 100), () => response.socket?.destroy());
  },
  '10 MB': (response) => {
    response.writeHead(502, { 'content-type': 'application/octet-stream' });
    response.end(Buffer.alloc(10 * 1024 * 1024, 0));
  },
  // A body that never ends: a few bytes now and then, never reaching the excerpt's size.
  'never ending': (response) => {
    response.writeHead(502, { 'content-type': 'text/plain' });
    const timer = setInterval(() => response.write('.'), 100);
    response.on('close', () => clearInterval(timer));
  },
};

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
}

/** A real partner on loopback: each path fails twice in its own way, then answers 200. */
class Partner {
  readonly received: Received[] = [];
  private server?: Server;
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const path = request.url ?? '/';
        this.received.push({ path, headers: request.headers });
        const kind = decodeURIComponent(path.slice(1));
        if (this.at(path).length <= 2 && answers[kind]) answers[kind](response);
        else response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(kind: string): string {
    return `http://127.0.0.1:${this.port}/${encodeURIComponent(kind)}`;
  }

  at(path: string): Received[] {
    return this.received.filter((request) => request.path === path);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe('Whatever a partner answers, an event is sent on its schedule and every attempt is recorded', () => {
  let test: TestApp;
  let partner: Partner;
  let shop: { id: string; api_key: string };
  let day = 0;

  beforeAll(async () => {
    partner = await new Partner().start();
    test = await startApp({
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
      // Three attempts in all: two failures, then the 200.
      CALLBACK_RETRY_DELAYS_MS: '300,300',
      CALLBACK_TIMEOUT_MS: '2000',
      SWEEP_INTERVAL_MS: '1000',
      // The specs poll the status route as fast as they can.
      RATE_LIMIT_STATUS_PER_MINUTE: '100000',
    });
    shop = await newClient(test);
  });
  afterAll(async () => {
    await test.close();
    await partner.stop();
  });

  async function requestReport(callbackUrl: string): Promise<string> {
    day += 1;
    const start = new Date(Date.UTC(2044, 0, day)).toISOString().slice(0, 10);
    const end = new Date(Date.UTC(2044, 0, day + 1)).toISOString().slice(0, 10);
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: start, end_date: end, callback_url: callbackUrl },
    });
    expect(accepted.status).toBe(202);
    return accepted.body.id as string;
  }

  const callbackOf = async (id: string) =>
    (await call(test, 'GET', `/v1/orders/reports/status/${id}`, { key: shop.api_key })).body
      .callback as { status: string; attempts: number } | null;

  it.each(Object.keys(answers))(
    'a partner answering 502 %s twice, then 200: exactly 3 POSTs, 3 attempts recorded',
    async (kind) => {
      const url = partner.url(kind);
      const path = new URL(url).pathname;
      const id = await requestReport(url);
      await eventually(async () => (await callbackOf(id))?.status === 'DELIVERED', 60);

      expect(await callbackOf(id)).toEqual({ status: 'DELIVERED', attempts: 3 });
      expect(partner.at(path)).toHaveLength(3);
      for (const request of partner.at(path)) {
        expect(request.headers['accept-encoding']).toBe('identity');
      }
      const listed = await call(test, 'GET', `/v1/orders/reports/${id}/callbacks`, {
        key: shop.api_key,
      });
      expect(listed.status).toBe(200);
      expect(
        listed.body.data.map((a: { attempt: number; status_code: number; error: string }) => [
          a.attempt,
          a.status_code,
          a.error,
        ]),
      ).toEqual([
        [1, 502, 'HTTP 502'],
        [2, 502, 'HTTP 502'],
        [3, 200, null],
      ]);
      // What is kept of an answer that is not plain text: nothing.
      const excerpts = await test.dataSource.query<Array<{ response_excerpt: string | null }>>(
        `SELECT a.response_excerpt FROM callback_attempts a
           JOIN callback_events e ON e.id = a.event_id
          WHERE e.report_id = $1 ORDER BY a.attempt`,
        [id],
      );
      expect(excerpts.map((row) => row.response_excerpt)).toEqual(
        kind === 'closed mid-answer' || kind === 'never ending'
          ? [expect.any(String), expect.any(String), 'ok']
          : [null, null, 'ok'],
      );
    },
  );

  it('keeps a plain-text answer as a bounded excerpt', async () => {
    const url = partner.url('plain');
    const id = await requestReport(url);
    await eventually(async () => (await callbackOf(id))?.status === 'DELIVERED', 60);
    const [row] = await test.dataSource.query<Array<{ response_excerpt: string | null }>>(
      `SELECT a.response_excerpt FROM callback_attempts a
         JOIN callback_events e ON e.id = a.event_id WHERE e.report_id = $1`,
      [id],
    );
    expect(row.response_excerpt).toBe('ok');
  });
});
