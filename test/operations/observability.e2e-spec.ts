import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { testEnvironment } from '../support/env';
import { call, newClient, pollUntilDone, startApp, TestApp } from '../support/harness';
import { exited } from '../support/processes';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
import { eventually, Receiver } from '../support/receiver';

const ADMIN_TOKEN = 'observability-admin-token-0123456789';

/** The value of one series in a Prometheus text scrape (0 when absent), matched on these labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const given = (match[2] ?? '').split(',');
    if (wanted.every((pair) => given.includes(pair))) return Number(match[3]);
  }
  return 0;
}

describe('Operations: metrics, queue dashboard and request ids', () => {
  let test: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    // Counters are per process; each test run has queues of its own (QUEUE_PREFIX), so no other
    // run's worker takes this spec's jobs.
    receiver = await new Receiver().start();
    test = await startApp({
      ADMIN_TOKEN,
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
    });
  });
  afterAll(async () => {
    await test.close();
    await receiver.stop();
  });

  async function scrape(): Promise<string> {
    const answer = await call(test, 'GET', '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return answer.bytes.toString('utf8');
  }

  it('serves Prometheus metrics without an API key: HTTP durations by route pattern, queue depth, process', async () => {
    await call(test, 'GET', '/health');
    await call(test, 'GET', '/v1/orders/reports/status/00000000-0000-4000-8000-000000000000');
    await call(test, 'GET', '/no/such/route');
    const text = await scrape();

    expect(text).toMatch(
      /^reports_http_request_duration_seconds_bucket\{[^}]*route="\/health"[^}]*\} [1-9]/m,
    );
    // The pattern, never the raw URL; a guard's 401 is timed too.
    expect(
      sample(text, 'reports_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/v1/orders/reports/status/:id',
        status_code: '401',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('00000000-0000-4000-8000-000000000000');
    expect(
      sample(text, 'reports_http_request_duration_seconds_count', {
        route: 'unmatched',
        status_code: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('/no/such/route');

    for (const queue of ['report-render', 'callback-delivery']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed']) {
        expect(text).toMatch(
          new RegExp(`^reports_queue_jobs\\{queue="${queue}",state="${state}"\\} \\d+$`, 'm'),
        );
      }
    }
    expect(text).toMatch(/^reports_process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^reports_nodejs_heap_size_used_bytes \d/m);
    expect(text).toContain('# TYPE reports_chromium_restarts_total counter');
  });

  it('counts a finished render, its duration and size, and its callback attempt', async () => {
    const before = await scrape();
    const shop = await newClient(test, 'Metrics Shop');
    const callbackUrl = receiver.script('/metrics-cb', { status: 200 });
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2030-01-01', end_date: '2030-01-02', callback_url: callbackUrl },
    });
    expect(accepted.status).toBe(202);
    const done = await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!);
    expect(done.status).toBe(303);
    await eventually(async () => receiver.at('/metrics-cb').length === 1);

    const after = await eventually(async () => {
      const text = await scrape();
      return sample(text, 'reports_callback_attempts_total', { outcome: 'delivered' }) >
        sample(before, 'reports_callback_attempts_total', { outcome: 'delivered' })
        ? text
        : undefined;
    });
    const renders = (text: string) =>
      sample(text, 'reports_renders_total', { outcome: 'completed' });
    expect(renders(after)).toBe(renders(before) + 1);
    expect(sample(after, 'reports_render_duration_seconds_count')).toBe(
      sample(before, 'reports_render_duration_seconds_count') + 1,
    );
    expect(sample(after, 'reports_render_pdf_bytes_count')).toBe(
      sample(before, 'reports_render_pdf_bytes_count') + 1,
    );
    expect(sample(after, 'reports_render_pdf_bytes_sum')).toBeGreaterThan(
      sample(before, 'reports_render_pdf_bytes_sum'),
    );
  });

  describe('the queue dashboard at /admin/queues', () => {
    const basic = (password: string) =>
      `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;

    it.each([
      ['no token', {}],
      ['a wrong bearer token', { authorization: `Bearer ${ADMIN_TOKEN}x` }],
      ['a wrong Basic password', { authorization: basic('not-the-admin-token') }],
      ['an API key', { authorization: 'Bearer rk_something' }],
    ])('answers 401 in the error format to %s', async (_why, headers) => {
      const answer = await call(test, 'GET', '/admin/queues', { headers });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Basic realm="queues"');
      expect(answer.body).toEqual({
        error_code: 'UNAUTHORIZED',
        error_message: expect.any(String),
      });
    });

    it('opens with the admin token as a bearer token or as a Basic password', async () => {
      for (const authorization of [`Bearer ${ADMIN_TOKEN}`, basic(ADMIN_TOKEN)]) {
        const page = await call(test, 'GET', '/admin/queues', { headers: { authorization } });
        expect(page.status).toBe(200);
        expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      }
      const api = await call(test, 'GET', '/admin/queues/api/queues', {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(api.status).toBe(200);
      expect((api.body.queues as { name: string }[]).map((queue) => queue.name).sort()).toEqual([
        'callback-delivery',
        'report-render',
      ]);
    });
  });

  it('echoes a valid x-request-id and gives every other request a fresh one', async () => {
    const given = await call(test, 'GET', '/health', { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const forged = await call(test, 'GET', '/health', {
      headers: { 'x-request-id': 'a'.repeat(65) },
    });
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const none = await call(test, 'GET', '/health');
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('does not serve the dashboard at all without ADMIN_TOKEN, and a second app in the process keeps its own metrics', async () => {
    const plain = await startApp({ APP_ROLE: 'api' });
    try {
      const answer = await call(plain, 'GET', '/admin/queues', {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(answer.status).toBe(404);
      expect(answer.body.error_code).toBe('NOT_FOUND');
      const metrics = await call(plain, 'GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(
        sample(metrics.bytes.toString('utf8'), 'reports_renders_total', { outcome: 'completed' }),
      ).toBe(0);
    } finally {
      await plain.close();
    }
  });

  it('has a worker process serve /health and /metrics over HTTP, and no API route', async () => {
    const worker = await startApp({ APP_ROLE: 'worker' });
    try {
      const metrics = await call(worker, 'GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.bytes.toString('utf8')).toContain('reports_renders_total');
      expect((await call(worker, 'GET', '/health')).status).toBe(200);
      for (const path of ['/v1/orders/reports', '/docs', '/admin/queues']) {
        const answer = await call(worker, 'GET', path, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        expect(answer.status).toBe(404);
        expect(answer.body).toEqual({ error_code: 'NOT_FOUND', error_message: 'No such route' });
      }
    } finally {
      await worker.close();
    }
  });

  it('starts an API process without Chromium, and stops a worker whose Chromium is missing', async () => {
    const nowhere = '/nonexistent/chromium';
    const api = await startApp({ APP_ROLE: 'api', PUPPETEER_EXECUTABLE_PATH: nowhere });
    try {
      expect((await call(api, 'GET', '/health')).status).toBe(200);
      const { api_key: key } = await newClient(api);
      const posted = await call(api, 'POST', '/v1/orders/reports', {
        key,
        json: { start_date: '2030-06-01', end_date: '2030-06-02' },
      });
      expect(posted.status).toBe(202);
    } finally {
      await api.close();
    }

    const worker = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'main.js')], {
      env: {
        ...process.env,
        ...testEnvironment(),
        APP_ROLE: 'worker',
        PORT: '0',
        PUPPETEER_EXECUTABLE_PATH: nowhere,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    worker.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const ended = await Promise.race([exited(worker), sleep(60_000).then(() => 'still running')]);
    worker.kill('SIGKILL'); // if it did not stop, it must not outlive the test
    expect(ended).toEqual({ code: 1, signal: null });
    expect(stderr).toContain(
      `Invalid configuration: PUPPETEER_EXECUTABLE_PATH="${nowhere}" (no such file)`,
    );
  });
});
