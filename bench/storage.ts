/**
 * Where PDFs are kept: the same report of 10,000 orders rendered and stored in Postgres
 * (REPORT_STORAGE=postgres) and in a bucket (s3rver, a real S3-protocol server on loopback), by a
 * worker of each, a few times in turn: the worker's render + store time (reports.render_ms, which
 * ends once the PDF is stored) and POST → 303. Run on its own: `node -r
 * ts-node/register/transpile-only bench/storage.ts` (after `npm run build`).
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ClientsService } from '../src/clients/clients.service';
import { generateOrders } from '../src/orders/order-seed';
import { OrdersRepository } from '../src/orders/orders.repository';
import { percentile, sleep, standaloneStep, startProcess, waitForHttp } from './harness';

const ORDERS = 10_000;
const ROUNDS = 3;
const PORT = 3950;

async function postTo303(base: string, headers: Record<string, string>, dataSource: DataSource) {
  const started = performance.now();
  const accepted = await fetch(`${base}/v1/orders/reports`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ start_date: '2030-01-01', end_date: '2030-01-02' }),
  });
  const location = accepted.headers.get('location')!;
  for (;;) {
    await sleep(50);
    const answer = await fetch(base + location, { headers, redirect: 'manual' });
    await answer.arrayBuffer();
    if (answer.status === 303) break;
    if (answer.status !== 200) throw new Error(`${location}: HTTP ${answer.status}`);
  }
  const postTo303Ms = Math.round(performance.now() - started);
  const [report] = await dataSource.query(`SELECT render_ms, pdf_size FROM reports WHERE id = $1`, [
    location.split('/').pop(),
  ]);
  return { postTo303Ms, renderAndStoreMs: report.render_ms as number, bytes: report.pdf_size };
}

export async function benchStorage(env: Record<string, string>, dataSource: DataSource) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require('s3rver') as new (options: object) => {
    run(): Promise<{ port: number }>;
    close(): Promise<void>;
  };
  const directory = mkdtempSync(join(tmpdir(), 'bench-s3rver-'));
  const s3 = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    configureBuckets: [{ name: 'bench' }],
  });
  const { port } = await s3.run();
  const client = await ClientsService.of(dataSource).create('Storage Bench');
  await new OrdersRepository(dataSource).insertMany(
    client.id,
    generateOrders(ORDERS, '2030-01-01', '2030-01-02'),
  );
  const headers = { authorization: `Bearer ${client.api_key}`, 'content-type': 'application/json' };
  const stores: Record<string, Record<string, string>> = {
    postgres: { REPORT_STORAGE: 'postgres' },
    's3 (s3rver)': {
      REPORT_STORAGE: 's3://bench/pdfs',
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    },
  };
  const runs: Record<string, Array<Awaited<ReturnType<typeof postTo303>>>> = {};
  try {
    // Each round renders with both, in turn: the machine drifts from one minute to the next.
    for (let round = 0; round < ROUNDS + 1; round += 1) {
      for (const [name, store] of Object.entries(stores)) {
        const app = startProcess({ ...env, ...store, PORT: String(PORT), LOG_LEVEL: 'warn' });
        try {
          await waitForHttp(`http://127.0.0.1:${PORT}`);
          const run = await postTo303(`http://127.0.0.1:${PORT}`, headers, dataSource);
          // The first round warms the machine up (fonts, Chromium's first prints): not counted.
          if (round > 0) (runs[name] ??= []).push(run);
        } finally {
          app.kill('SIGTERM');
          await new Promise((resolve) => app.once('exit', resolve));
        }
      }
    }
  } finally {
    await s3.close();
    rmSync(directory, { recursive: true, force: true });
  }
  return Object.entries(runs).map(([store, done]) => ({
    store,
    orders: ORDERS,
    pdfBytes: done[0].bytes,
    renderAndStoreMsMedian: percentile(
      done.map((run) => run.renderAndStoreMs),
      50,
    ),
    postTo303MsMedian: percentile(
      done.map((run) => run.postTo303Ms),
      50,
    ),
    renderAndStoreMs: done.map((run) => run.renderAndStoreMs).join(', '),
  }));
}

if (require.main === module) {
  void (async () => {
    const { env, dataSource } = await standaloneStep();
    try {
      console.table(await benchStorage(env, dataSource));
    } finally {
      await dataSource.destroy();
    }
  })();
}
