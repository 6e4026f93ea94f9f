/**
 * The end-to-end step: reports of 50 fixed orders through the service (API and worker processes)
 * with callbacks, against bare Puppeteer printing the worker's HTML of the same orders, once with
 * Latin names and once with names in mixed scripts.
 *
 * Runs inside `npm run bench`, or alone (API and worker started here):
 *   bash scripts/with-env.sh node -r ts-node/register/transpile-only bench/end-to-end.ts [latin,mixed]
 * BENCH_END_TO_END_REPORTS=30 BENCH_ROUNDS=2 for a short trial run.
 */
import 'reflect-metadata';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { clientWithOrders, fixedOrders, workerDocument } from './documents';
import {
  percentile,
  round1,
  round2,
  sleep,
  standaloneStep,
  startProcess,
  waitForHttp,
} from './harness';
import { bareDocumentRate, Scripts } from './render';

/** Measured rounds of the end-to-end run, each beside a round of bare Puppeteer. */
const END_TO_END_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Reports in each measured round (100; BENCH_END_TO_END_REPORTS for a shorter trial run). */
const END_TO_END_REPORTS = Number(process.env.BENCH_END_TO_END_REPORTS ?? 100);
/** Reports sent through the service before measuring (bare Puppeteer prints once per page first). */
const END_TO_END_WARM_UP = 20;

/**
 * Reports of 50 fixed orders (bench/documents.ts: Latin-only, or every other name in another
 * script) with callbacks to a fast receiver on loopback, against bare Puppeteer printing the very
 * HTML the worker builds from those orders, on as many warm pages as a worker has. A client of its
 * own holds the orders, named as the render step's. The service is warmed up first (bare Puppeteer
 * warms its pages in every round), then END_TO_END_ROUNDS rounds of 100 reports alternate with
 * rounds of bare Puppeteer: the machine's speed drifts within a run (seen here: ±15 % from one
 * minute to the next), so each round's ratio compares neighbours, and the median ratio is kept.
 * Then all 100 of the last round's callbacks are redelivered at once, for deliveries per second.
 */
export async function endToEnd(base: string, dataSource: DataSource, scripts: Scripts) {
  const client = await clientWithOrders(
    dataSource,
    scripts,
    fixedOrders(50, '2040-06-01', '2040-06-02', scripts),
  );
  const { round, arrived, headers, close } = await callbackRounds(base, dataSource, client.api_key);
  try {
    const warmUp = await round(END_TO_END_WARM_UP);
    // What bare Puppeteer prints: the worker's HTML for these very orders.
    const document = await workerDocument(dataSource, warmUp.ids[0]);
    const rounds = [];
    let last: string[] = [];
    for (let i = 0; i < END_TO_END_ROUNDS; i++) {
      const bare = await bareDocumentRate(document, undefined, END_TO_END_REPORTS);
      const { ids, ...ours } = await round(END_TO_END_REPORTS);
      last = ids;
      rounds.push({
        ...ours,
        bareReportsPerMinute: bare.reportsPerMinute,
        ratioToBare: round2(ours.reportsPerMinute / bare.reportsPerMinute),
      });
      console.log(
        `  end to end, ${scripts}, round ${i + 1}/${END_TO_END_ROUNDS}: ours ` +
          `${ours.reportsPerMinute} reports/min, bare ${bare.reportsPerMinute}, ratio ` +
          `${rounds[i].ratioToBare} (callbacks ${ours.callbacksReceived}/${ids.length})`,
      );
    }
    const median = [...rounds].sort((a, b) => a.ratioToBare - b.ratioToBare)[
      Math.floor(rounds.length / 2)
    ];

    // Each report's callback counts as redelivered when it arrives once more than it had before.
    const deliveries = (id: string) => arrived.get(id)?.length ?? 0;
    const before = new Map(last.map((id) => [id, deliveries(id)]));
    const redelivered = Date.now();
    await Promise.all(
      last.map((id) =>
        fetch(`${base}/v1/orders/reports/${id}/callbacks/redeliver`, { method: 'POST', headers }),
      ),
    );
    const allRedelivered = () => last.every((id) => deliveries(id) > before.get(id)!);
    while (!allRedelivered() && Date.now() - redelivered < 120_000) await sleep(20);
    return {
      scripts,
      reports: END_TO_END_REPORTS,
      documentParts: document.length,
      ...median,
      ratiosToBare: rounds.map((r) => r.ratioToBare),
      rounds,
      redeliveriesPerSecond: round1((last.length * 1000) / (Date.now() - redelivered)),
    };
  } finally {
    close();
  }
}

/**
 * Rounds of reports through the service at `base` for the client of `apiKey`, each with its callback
 * to a fast receiver on loopback (the end-to-end step's, and the tracing step's): `round(count)`
 * POSTs `count` reports of the client's fixed orders at once and waits for every callback.
 */
export async function callbackRounds(base: string, dataSource: DataSource, apiKey: string) {
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const arrived = new Map<string, number[]>();
  const receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const { id } = JSON.parse(body) as { id: string };
      arrived.set(id, [...(arrived.get(id) ?? []), Date.now()]);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cb`;

  /** POSTs `count` reports at once and waits for every callback. */
  const round = async (count: number) => {
    const posted = new Map<string, number>();
    const started = Date.now();
    await Promise.all(
      Array.from({ length: count }, async () => {
        const at = Date.now();
        const response = await fetch(`${base}/v1/orders/reports`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            start_date: '2040-06-01',
            end_date: '2040-06-02',
            callback_url: callbackUrl,
          }),
        });
        const body = (await response.json()) as { id: string };
        if (response.status !== 202) {
          throw new Error(`POST answered ${response.status}: ${JSON.stringify(body)}`);
        }
        posted.set(body.id, at);
      }),
    );
    const ids = [...posted.keys()];
    while (ids.some((id) => !arrived.has(id)) && Date.now() - started < 600_000) await sleep(20);
    const wallMs = Date.now() - started;
    const rows = await dataSource.query<{ id: string; completed: Date }[]>(
      `SELECT id, completed_at AS completed FROM reports WHERE id = ANY($1)`,
      [ids],
    );
    const postToCallback = [...posted].map(([id, at]) => (arrived.get(id)?.[0] ?? NaN) - at);
    const completionToCallback = rows.map(
      (row) => (arrived.get(row.id)?.[0] ?? NaN) - row.completed.getTime(),
    );
    return {
      ids,
      callbacksReceived: ids.filter((id) => arrived.has(id)).length,
      wallMs,
      reportsPerMinute: round1((count * 60_000) / wallMs),
      postToCallbackP50Ms: percentile(postToCallback, 50),
      postToCallbackP95Ms: percentile(postToCallback, 95),
      completionToCallbackP50Ms: percentile(completionToCallback, 50),
    };
  };

  return { round, arrived, headers, close: () => receiver.close() };
}

if (require.main === module) {
  void (async () => {
    const { env, dataSource } = await standaloneStep();
    const port = 3920;
    const api = startProcess({ ...env, APP_ROLE: 'api', PORT: String(port) });
    const worker = startProcess({ ...env, APP_ROLE: 'worker', PORT: String(port + 1) });
    try {
      const base = `http://127.0.0.1:${port}`;
      await Promise.all([waitForHttp(base), waitForHttp(`http://127.0.0.1:${port + 1}`)]);
      for (const scripts of (process.argv[2] ?? 'latin,mixed').split(',') as Scripts[]) {
        console.log(`End to end, ${scripts}:`, await endToEnd(base, dataSource, scripts));
      }
    } finally {
      api.kill('SIGTERM');
      worker.kill('SIGTERM');
      await dataSource.destroy();
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
