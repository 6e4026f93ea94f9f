import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DataSource } from 'typeorm';
import { ClientsService } from '../../src/clients/clients.service';
import { NewOrder } from '../../src/orders/order.entity';
import { OrdersRepository } from '../../src/orders/orders.repository';
import { CallbacksService } from '../../src/callbacks/callbacks.service';
import { reportsConfig } from '../../src/config/configuration';
import { FairQueue } from '../../src/fair-queue/fair-queue';
import { RenderQueue } from '../../src/reports/admission/render-queue';
import { ReportRetention } from '../../src/reports/store/report-retention';
import { ReportsRepository } from '../../src/reports/store/reports.repository';
import { ReportSweeper } from '../../src/reports/sweep/report-sweeper';
import { testEnvironment } from './env';

/** The environment the suite started with. */
const BASE_ENV = { ...process.env };

export interface TestApp {
  app: NestFastifyApplication;
  url: string;
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * Boots the real application (Fastify, Postgres, Redis, Chromium) on a free port, with the given
 * configuration on top of the test environment.
 */
export async function startApp(overrides: Record<string, string> = {}): Promise<TestApp> {
  // Each app gets exactly the test environment and its own overrides, never a previous app's.
  for (const key of Object.keys(process.env)) if (!(key in BASE_ENV)) delete process.env[key];
  Object.assign(
    process.env,
    BASE_ENV,
    testEnvironment(),
    { CALLBACK_ALLOW_PRIVATE_NETWORKS: 'false' },
    overrides,
  );
  const { createApp } = await import('../../src/main');
  const app = await createApp(['error', 'warn']);
  await app.listen(0, '127.0.0.1');
  return {
    app,
    url: (await app.getUrl()).replace('[::1]', '127.0.0.1'),
    dataSource: app.get(DataSource),
    close: () => app.close(),
  };
}

/**
 * The worker's sweep, built from an API process's parts: an API process runs none on a timer, so a
 * spec runs passes when it chooses.
 */
export function sweeperOf(test: TestApp): ReportSweeper {
  return new ReportSweeper(
    test.dataSource,
    test.app.get(ReportsRepository),
    test.app.get(RenderQueue),
    test.app.get(FairQueue),
    test.app.get(CallbacksService),
    test.app.get(ReportRetention),
    test.app.get(reportsConfig.KEY),
  );
}

export async function newClient(test: TestApp, name = 'Test Shop', timeZone?: string) {
  return test.app
    .get(ClientsService)
    .create(`${name} ${Math.random().toString(36).slice(2, 8)}`, timeZone);
}

/** Writes orders straight into Postgres (thousands at a time), as the admin CLI's seed does. */
export function insertOrders(test: TestApp, clientId: string, orders: NewOrder[]): Promise<number> {
  return new OrdersRepository(test.dataSource).insertMany(clientId, orders);
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  bytes: Buffer;
}

/** One HTTP request against the app; redirects are not followed, so 303s can be checked. */
export async function call(
  test: TestApp,
  method: string,
  path: string,
  options: { key?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(test.url + path, { method, headers, body, redirect: 'manual' });
  const bytes = Buffer.from(await response.arrayBuffer());
  const type = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    headers: response.headers,
    body: type.includes('json') && bytes.length ? JSON.parse(bytes.toString('utf8')) : undefined,
    bytes,
  };
}

/** Polls the status URL as a client would (honouring Retry-After, capped) until it stops saying 200. */
export async function pollUntilDone(
  test: TestApp,
  key: string,
  location: string,
  maxSeconds = 90,
): Promise<Answer> {
  const deadline = Date.now() + maxSeconds * 1000;
  for (;;) {
    const answer = await call(test, 'GET', location, { key });
    const running =
      answer.status === 200 && ['PENDING', 'IN_PROGRESS'].includes(answer.body?.status);
    if (!running || Date.now() > deadline) return answer;
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(Number(answer.headers.get('retry-after')), 1) * 250),
    );
  }
}

/**
 * A report as a client gets it: POST (202), poll the status URL until 303, GET the PDF (200).
 * The three answers, for specs that check more than the PDF.
 */
export async function downloadReport(
  test: TestApp,
  key: string,
  json: object,
  maxSeconds?: number,
): Promise<{ accepted: Answer; done: Answer; pdf: Answer }> {
  const accepted = await call(test, 'POST', '/v1/orders/reports', { key, json });
  expect(accepted.status).toBe(202);
  const done = await pollUntilDone(test, key, accepted.headers.get('location')!, maxSeconds);
  expect(done.status).toBe(303);
  const pdf = await call(test, 'GET', done.headers.get('location')!, { key });
  expect(pdf.status).toBe(200);
  return { accepted, done, pdf };
}

/** The PDF's text and page count, as pdf.js (pdf-parse) reads them. */
export async function parsePdf(pdf: Buffer): Promise<{ text: string; numpages: number }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const parse = require('pdf-parse/lib/pdf-parse.js') as (
    data: Buffer,
  ) => Promise<{ text: string; numpages: number }>;
  return parse(pdf);
}

export async function pdfText(pdf: Buffer): Promise<string> {
  return (await parsePdf(pdf)).text;
}

export function order(number: string, placedAt: string, overrides: Record<string, unknown> = {}) {
  return {
    number,
    placed_at: placedAt,
    status: 'PAID',
    currency: 'EUR',
    customer: { name: 'Ada Lovelace', email: 'ada@example.com' },
    items: [{ sku: 'SKU-1', name: 'Mug', quantity: 2, unit_price: '12.50' }],
    ...overrides,
  };
}

/** One-day periods of `year`, a new one at each call, with no orders: their reports render at once. */
export function emptyPeriods(year: number): () => { start_date: string; end_date: string } {
  let day = 0;
  return () => {
    day += 1;
    const start = new Date(Date.UTC(year, 0, day));
    const end = new Date(Date.UTC(year, 0, day + 1));
    return {
      start_date: start.toISOString().slice(0, 10),
      end_date: end.toISOString().slice(0, 10),
    };
  };
}
