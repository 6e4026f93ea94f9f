import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { testEnvironment } from '../support/env';
import { newClient, startApp, TestApp } from '../support/harness';
import { OtlpReceiver, ReceivedSpan } from '../support/otlp-receiver';
import { exited, killGroup, spawnWorker } from '../support/processes';
import { eventually, Receiver } from '../support/receiver';

jest.setTimeout(180_000);

const SERVER = 2;
const CLIENT = 3;
const CONSUMER = 5;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `node dist/main.js` in a role of its own, as production runs it, its stdout kept. */
function spawnService(env: Record<string, string>): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'main.js')], {
    env: { ...process.env, ...testEnvironment(), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return { child, out: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  killGroup(child, 'SIGTERM');
  await exited(child);
}

/** A W3C `traceparent` as a caller with its own tracing sends it: a fresh trace, sampled. */
function callerTraceparent() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

describe('Tracing: one trace per report, from the POST to the callback, across processes', () => {
  let admin: TestApp;
  let partner: Receiver;
  let collector: OtlpReceiver;

  beforeAll(async () => {
    // Creates the clients; an API process of its own, never traced.
    admin = await startApp({ APP_ROLE: 'api', CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true' });
    partner = await new Receiver().start();
    collector = await new OtlpReceiver().start();
  });
  afterAll(async () => {
    await admin.close();
    await partner.stop();
    await collector.stop();
  });

  it('exports the spans of the API and the worker in the caller’s trace, and the callback carries it', async () => {
    const shop = await newClient(admin, 'Traced Shop');
    const port = await freePort();
    const traced = {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
    };
    const api = spawnService({ ...traced, APP_ROLE: 'api', PORT: String(port) });
    const worker = spawnService({ ...traced, APP_ROLE: 'worker', PORT: '0' });
    const caller = callerTraceparent();
    const callbackUrl = partner.script('/traced', { status: 204 });
    let id = '';
    try {
      const base = `http://127.0.0.1:${port}`;
      await eventually(async () => (await fetch(`${base}/health`).catch(() => null))?.ok, 60);
      const posted = await fetch(`${base}/v1/orders/reports`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${shop.api_key}`,
          'content-type': 'application/json',
          traceparent: caller.header,
          tracestate: 'caller=t61rcWkgQ4',
        },
        body: JSON.stringify({
          start_date: '2031-03-01',
          end_date: '2031-03-02',
          callback_url: callbackUrl,
        }),
      });
      expect(posted.status).toBe(202);
      id = ((await posted.json()) as { id: string }).id;
      await eventually(async () => partner.at('/traced').length > 0, 90);
      await eventually(
        async () =>
          collector
            .inTrace(caller.traceId, worker.child.pid)
            .some((span) => span.name === 'process callback-delivery'),
        30,
      );
    } finally {
      await Promise.all([stop(api.child), stop(worker.child)]);
    }

    // The partner's request carries the trace: its parent is the worker's HTTP client span.
    const [callback] = partner.at('/traced');
    const [, callbackTraceId, callbackParent] = TRACEPARENT.exec(
      String(callback.headers.traceparent),
    )!;
    expect(callbackTraceId).toBe(caller.traceId);
    expect(callback.headers.tracestate).toBe('caller=t61rcWkgQ4');

    const trace = collector.inTrace(caller.traceId);
    const byId = new Map(trace.map((span) => [span.spanId, span]));
    const ancestors = (span: ReceivedSpan): ReceivedSpan[] => {
      const parent = byId.get(span.parentSpanId);
      return parent ? [parent, ...ancestors(parent)] : [];
    };
    const fromApi = trace.filter((span) => span.resource['process.pid'] === api.child.pid);
    const fromWorker = trace.filter((span) => span.resource['process.pid'] === worker.child.pid);
    const named = (spans: ReceivedSpan[], name: string) => {
      const found = spans.filter((span) => span.name === name);
      expect(found.map((span) => span.name)).toContain(name);
      return found[0];
    };

    // The API: the POST's server span continues the caller's, and its Postgres and Redis calls
    // are its children.
    const post = named(fromApi, 'POST /v1/orders/reports');
    expect(post).toMatchObject({ kind: SERVER, parentSpanId: caller.spanId });
    expect(post.attributes).toMatchObject({ 'report.id': id, 'client.id': shop.id });
    expect(post.resource['service.name']).toBe('orders-reports');
    const dbSystem = (span: ReceivedSpan) =>
      span.attributes['db.system'] ?? span.attributes['db.system.name'];
    const underPost = fromApi.filter((span) => ancestors(span).includes(post));
    expect(underPost.some((span) => dbSystem(span) === 'postgresql')).toBe(true);
    expect(underPost.some((span) => dbSystem(span) === 'redis')).toBe(true);

    // The worker: the render job continues the POST's trace, and its steps are its children.
    const render = named(fromWorker, 'process report-render');
    expect(render.kind).toBe(CONSUMER);
    expect(render.attributes).toMatchObject({ 'report.id': id, 'client.id': shop.id });
    expect(fromApi.map((span) => span.spanId)).toContain(render.parentSpanId);
    for (const step of [
      'report.read_orders',
      'pdf.render',
      'pdf.print_part',
      'pdf.join',
      'report.store',
    ]) {
      expect(ancestors(named(fromWorker, step))).toContain(render);
    }
    const store = named(fromWorker, 'report.store');

    // The callback: queued as the report was stored, its attempt a span whose POST is the one the
    // partner received.
    const delivery = named(fromWorker, 'process callback-delivery');
    expect(ancestors(delivery)).toContain(store);
    const attempt = named(fromWorker, 'callback.attempt');
    expect(attempt.parentSpanId).toBe(delivery.spanId);
    expect(attempt.attributes).toMatchObject({
      'report.id': id,
      'callback.attempt': 1,
      'http.response.status_code': 204,
    });
    const post204 = byId.get(callbackParent)!;
    expect(post204).toMatchObject({ kind: CLIENT, parentSpanId: attempt.spanId });
    expect(post204.resource['process.pid']).toBe(worker.child.pid);

    // Never a secret in what is exported.
    for (const body of collector.bodies) {
      expect(body).not.toContain(shop.api_key);
      expect(body).not.toContain(shop.webhook_secret.replace(/^whsec_/, ''));
    }

    // The worker's log lines about the report carry the trace.
    const lines = worker
      .out()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg?: string; trace_id?: string; span_id?: string });
    const rendered = lines.find((line) => line.msg?.startsWith(`Report ${id}: 0 orders`));
    expect(rendered).toMatchObject({ trace_id: caller.traceId, span_id: expect.any(String) });
    expect(trace.map((span) => span.spanId)).toContain(rendered!.span_id);
  });

  it('adds nothing when no exporter is configured: no traceparent on the callback, no span', async () => {
    const shop = await newClient(admin, 'Untraced Shop');
    const worker = spawnWorker({ CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true' });
    const caller = callerTraceparent();
    const callbackUrl = partner.script('/untraced', { status: 204 });
    try {
      const posted = await fetch(`${admin.url}/v1/orders/reports`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${shop.api_key}`,
          'content-type': 'application/json',
          traceparent: caller.header,
        },
        body: JSON.stringify({
          start_date: '2031-04-01',
          end_date: '2031-04-02',
          callback_url: callbackUrl,
        }),
      });
      expect(posted.status).toBe(202);
      await eventually(async () => partner.at('/untraced').length > 0, 90);
    } finally {
      await stop(worker);
    }
    const [callback] = partner.at('/untraced');
    expect(callback.headers).not.toHaveProperty('traceparent');
    expect(callback.headers).not.toHaveProperty('tracestate');
    expect(collector.inTrace(caller.traceId)).toEqual([]);
  });
});
