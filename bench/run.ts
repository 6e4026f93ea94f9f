/**
 * `npm run bench`: measures, prints a table, writes bench/results/<date>.json. Never passes or fails.
 * It uses its own Postgres database (`<name>_bench`) and Redis database (14).
 */
import 'reflect-metadata';
import { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { ClientsService } from '../src/clients/clients.service';
import { generateOrders } from '../src/orders/order-seed';
import { OrdersRepository } from '../src/orders/orders.repository';
import { backlogTableRows, benchBacklog } from './backlog';
import { fixedOrders } from './documents';
import { endToEnd } from './end-to-end';
import { pollsUnderFlood } from './floods';
import {
  alternate,
  benchEnvironment,
  CONNECTIONS,
  freshDatabase,
  load,
  percentile,
  ROOT,
  round1,
  sleep,
  startProcess,
  waitForHttp,
} from './harness';
import { benchRecycle, recycleTableRows } from './recycle';
import { benchTracing, tracingTableRow } from './tracing';
import { benchRender, RenderBenchResult, Scripts, treeRssMb } from './render';

/**
 * Steps left out of a trial run: BENCH_SKIP=render,recycle,big,tracing (the render step, the recycling
 * step, the 10,000- and 100,000-order reports, and the tracing step), to try the others in minutes.
 */
/** How the table names the names a report prints. */
const SCRIPT_LABELS: Record<Scripts, string> = {
  latin: 'Latin',
  mixed: 'ten scripts',
  cjk: 'Chinese, Japanese, Korean',
};

const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));

/** The V8 heap a worker gets for the bounded-memory run. */
const CAPPED_HEAP_MB = 64;

/** Rounds of the status route, each beside a round of its bare tool. */
const STATUS_ROUNDS = 3;

/** The status route on `paths` against its bare tool on the same paths, in alternating rounds. */
function statusAgainstBare(
  base: string,
  bareBase: string,
  headers: Record<string, string>,
  paths: string[],
) {
  return alternate(
    'status route',
    STATUS_ROUNDS,
    () => load(base, { headers, paths }),
    () => load(bareBase, { paths }),
  );
}

/** Polls a status URL every `everyMs` while its report is unfinished (10 minutes at most): the last HTTP status. */
async function untilFinished(
  url: string,
  headers: Record<string, string>,
  everyMs = 100,
): Promise<number> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    await sleep(everyMs);
    const answer = await fetch(url, { headers, redirect: 'manual' });
    const { status } = (await answer.json()) as { status: string };
    if (!['PENDING', 'IN_PROGRESS'].includes(status) || Date.now() > deadline) return answer.status;
  }
}

/** POSTs `count` reports of a day in `month` (YYYY-MM): their status paths. */
async function postReports(
  base: string,
  headers: Record<string, string>,
  month: string,
  count: number,
): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const accepted = await fetch(`${base}/v1/orders/reports`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ start_date: `${month}-01`, end_date: `${month}-02` }),
      });
      return accepted.headers.get('location')!;
    }),
  );
}

/**
 * POST load spread over CONNECTIONS clients, each request taking the next client's key: one
 * client's admissions are serialised by its admission lock (the bound on its unfinished reports),
 * so one client alone measures that lock, and many clients the route.
 */
/** One report of a year's orders, POST to 303, sampling the worker's memory as it renders. */
async function bigReport(
  base: string,
  headers: Record<string, string>,
  dataSource: DataSource,
  worker: ChildProcess,
  year: number,
) {
  let workerRssMb = 0;
  let chromiumRssMb = 0;
  const sampler = setInterval(() => {
    // One scan of /proc every 500 ms: scanning costs CPU the render would otherwise have.
    const { processMb, descendantsMb } = treeRssMb(worker.pid);
    workerRssMb = Math.max(workerRssMb, processMb);
    chromiumRssMb = Math.max(chromiumRssMb, descendantsMb);
  }, 500);
  try {
    const started = performance.now();
    const accepted = await fetch(`${base}/v1/orders/reports`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ start_date: `${year}-01-01`, end_date: `${year}-12-31` }),
    });
    const location = accepted.headers.get('location')!;
    const status = await untilFinished(base + location, headers);
    const [report] = await dataSource.query(
      `SELECT order_count, render_ms, pdf_size FROM reports WHERE id = $1`,
      [location.split('/').pop()],
    );
    const figures = {
      finalStatus: status,
      orders: report.order_count,
      postTo303Ms: Math.round(performance.now() - started),
      workerRenderMs: report.render_ms,
      pdfBytes: report.pdf_size,
      workerRssPeakMb: workerRssMb,
      chromiumRssPeakMb: chromiumRssMb,
    };
    return { figures };
  } finally {
    clearInterval(sampler);
  }
}

/** POSTs one report of `day` and waits for its 303: milliseconds. */
async function postTo303(base: string, headers: Record<string, string>, day: string) {
  const started = performance.now();
  const accepted = await fetch(`${base}/v1/orders/reports`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ start_date: day, end_date: nextDay(day) }),
  });
  const location = accepted.headers.get('location')!;
  const status = await untilFinished(base + location, headers, 20);
  if (status !== 303) throw new Error(`${location} finished with HTTP ${status}, not 303`);
  return Math.round(performance.now() - started);
}

const nextDay = (day: string) =>
  new Date(new Date(`${day}T00:00:00Z`).getTime() + 86_400_000).toISOString().slice(0, 10);

/**
 * Fair queuing: a quiet client's report of 50 orders, POST to 303, on an idle service and behind
 * another client's flood of 40 reports of 50 orders, against the flood's drain time.
 */
async function fairness(base: string, dataSource: DataSource) {
  const clients = ClientsService.of(dataSource);
  const orders = new OrdersRepository(dataSource);
  const [flood, quiet] = [await clients.create('Flood'), await clients.create('Quiet')];
  const auth = (key: string) => ({
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
  });
  // Every day of a month of its own holds 50 orders: each report of a day renders 50 orders.
  for (const [client, month] of [
    [flood, '2041-01'],
    [quiet, '2041-02'],
  ] as const) {
    for (let day = 1; day <= 28; day += 1) {
      const date = `${month}-${String(day).padStart(2, '0')}`;
      // Fixed orders, Latin-only, as the end-to-end step's: the same documents every run.
      await orders.insertMany(client.id, fixedOrders(50, date, nextDay(date), 'latin', day));
    }
  }
  const idle = [];
  for (let i = 1; i <= 3; i += 1)
    idle.push(await postTo303(base, auth(quiet.api_key), `2041-02-0${i}`));
  const floodStarted = performance.now();
  const floodPaths = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      const day = `2041-01-${String(1 + (i % 28)).padStart(2, '0')}`;
      const accepted = await fetch(`${base}/v1/orders/reports`, {
        method: 'POST',
        headers: auth(flood.api_key),
        body: JSON.stringify({ start_date: day, end_date: nextDay(day) }),
      });
      return accepted.headers.get('location')!;
    }),
  );
  const behindFlood = await postTo303(base, auth(quiet.api_key), '2041-02-10');
  for (const path of floodPaths) await untilFinished(base + path, auth(flood.api_key), 20);
  const floodMs = Math.round(performance.now() - floodStarted);
  const idleMs = percentile(idle, 50);
  return {
    idleMs,
    behindFloodMs: behindFlood,
    floodDrainMs: floodMs,
    ratioToIdle: round1(behindFlood / idleMs),
    shareOfFlood: Math.round((behindFlood / floodMs) * 1000) / 1000,
  };
}

/** The run as the Markdown table the README carries, with the machine it ran on. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the results object built above
function summaryTable(results: Record<string, any>): string {
  const { machine, render, api, post, callbacks } = results;
  const lines = [
    `Measured ${results.date.slice(0, 10)} on ${machine.cpus} × ${machine.cpuModel}, ` +
      `${machine.memoryGb} GB, Node ${machine.node}; load generator on the same machine.`,
    '',
    '| measure | ours | bare tool, same run | ratio |',
    '| --- | --- | --- | --- |',
    ...(render ?? []).map(
      (r: RenderBenchResult) =>
        `| render ${r.orders.toLocaleString('en')} orders, ${SCRIPT_LABELS[r.scripts]} ` +
        `(ms; PDF KB, pages per 1,000) | ${r.oursMs}; ${Math.round(r.pdfBytes / 1024)}, ${r.pagesPer1000} | ` +
        `${r.bareMs}; ${Math.round(r.barePdfBytes / 1024)} (Puppeteer, one document, one page) | ${r.ratio} |`,
    ),
    `| POST → 202 sequential (p50 / p99 ms) | ${post.p50Ms} / ${post.p99Ms} | | |`,
    ...(['200', '303'] as const).map((code) => {
      const { ours, bare, ratio, ratios } = api[`status${code}`];
      return (
        `| status route, ${code}, ${CONNECTIONS} reports in turn (req/s, p99 ms; median of ${ratios.length} rounds) | ` +
        `${ours.requestsPerSecond}, ${ours.p99Ms} | ${bare.requestsPerSecond}, ${bare.p99Ms} ` +
        `(Fastify + pg, one query per request, no key, limit or log; the round beside it) | ` +
        `${ratio} (rounds: ${ratios.join(', ')}) |`
      );
    }),
    ...['report10k', 'report100k', 'report100kCappedHeap']
      .filter((key) => results[key])
      .map((key) => {
        const r = results[key];
        const heap = r.heapLimitMb ? `, worker heap capped at ${r.heapLimitMb} MB` : '';
        return (
          `| ${r.orders.toLocaleString('en')} orders${heap}, POST → 303 (s; worker / Chromium RSS MB) | ` +
          `${(r.postTo303Ms / 1000).toFixed(1)}; ${r.workerRssPeakMb} / ${r.chromiumRssPeakMb} | | |`
        );
      }),
    ...[callbacks, results.callbacksMixed].map(
      (r) =>
        `| ${r.reports} reports of 50 fixed orders, ${r.scripts === 'mixed' ? 'mixed scripts' : 'Latin'}, ` +
        `with callbacks (reports/min; median of ${r.rounds.length} rounds) | ${r.reportsPerMinute} | ` +
        `${r.bareReportsPerMinute} (Puppeteer printing the worker's HTML of the same orders on as many ` +
        `pages, the round before) | ${r.ratioToBare} (rounds: ${r.ratiosToBare.join(', ')}) |`,
    ),
    `| quiet client's report behind another's flood of 40, POST → 303 (ms) | ${results.fairness.behindFloodMs} | ` +
      `${results.fairness.idleMs} on an idle service; the flood drains in ${results.fairness.floodDrainMs} | ` +
      `${results.fairness.ratioToIdle} of idle, ${results.fairness.shareOfFlood} of the flood |`,
    ...(['duringMadeUpKeys', 'duringHealth'] as const).map((flood) => {
      const { alone, [flood]: during } = api.pollsUnderFlood;
      const what = flood === 'duringHealth' ? '/health' : 'made-up API keys';
      return (
        `| authenticated poll p50 / p99 (ms) during a flood of ${what} (${during.flood.requestsPerSecond} req/s; ` +
        `API CPU µs per request) | ${during.poll.p50Ms} / ${during.poll.p99Ms} (${during.apiCpuUsPerRequest}) | ` +
        `${alone.poll.p50Ms} / ${alone.poll.p99Ms} alone (${alone.apiCpuUsPerRequest}) | ` +
        `${round1(during.poll.p99Ms / Math.max(1, alone.poll.p99Ms))} (p99) |`
      );
    }),
    `| POST → callback received (p50 / p95 ms) | ${callbacks.postToCallbackP50Ms} / ${callbacks.postToCallbackP95Ms} | | |`,
    `| report completed → callback received (p50 ms) | ${callbacks.completionToCallbackP50Ms} | | |`,
    `| callback redeliveries to a fast receiver (per s) | ${callbacks.redeliveriesPerSecond} | | |`,
    ...(results.recycle ? recycleTableRows(results.recycle) : []),
    ...backlogTableRows(results.backlog),
    ...(results.tracing ? [tracingTableRow(results.tracing)] : []),
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const env = benchEnvironment();
  Object.assign(process.env, env);
  const dataSource = await freshDatabase(env.DATABASE_URL);
  const redis = new Redis(env.REDIS_URL);
  await redis.flushdb();
  const client = await ClientsService.of(dataSource).create('Bench Shop');
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
  };

  // 1. Render: our worker's renderer against bare Puppeteer on the same HTML, same run.
  console.log('Render: ours against bare Puppeteer on the same HTML (a few minutes)…');
  // `npm run bench -- 50,1000` for a shorter run; the bare 10,000-order document alone takes minutes.
  const sizes = (process.argv[2] ?? '50,1000,10000').split(',').map(Number);
  if (!SKIP.has('render')) {
    results.render = await benchRender(sizes);
    console.table(results.render);
  }

  // 1b. Chromium over thousands of renders, recycling as configured against never (bench/recycle.ts).
  console.log('Chromium recycling: memory and throughput over ~9,000 renders (10-20 minutes)…');
  if (!SKIP.has('recycle')) results.recycle = await benchRecycle();

  // 1c. The backlog: POST and the status route with 0, 2,000 and 10,000 reports waiting, beside
  // bare Fastify + pg (+ ioredis) in the same run, on API processes of its own (bench/backlog.ts).
  console.log('Backlog: POST and the status route as reports wait (10-15 minutes)…');
  results.backlog = await benchBacklog(env, dataSource);
  // Its reports and jobs go: the next steps measure their own reports alone.
  await redis.flushdb();
  await dataSource.query(`DELETE FROM reports`);

  // 2. POST-to-202 latency, on an API-only process (no render competing for the CPU).
  const port = 3900;
  const api = startProcess({ ...env, APP_ROLE: 'api', PORT: String(port) });
  const base = `http://127.0.0.1:${port}`;
  // The status route's bare tool: Fastify and pg answering the same path, one query per request.
  const bare = startProcess(
    { ...env, PORT: String(port + 1) },
    join(ROOT, 'bench', 'bare-status.ts'),
  );
  const bareBase = `http://127.0.0.1:${port + 1}`;
  const headers = { authorization: `Bearer ${client.api_key}`, 'content-type': 'application/json' };
  try {
    await Promise.all([waitForHttp(base), waitForHttp(bareBase)]);
    const latencies: number[] = [];
    for (let i = 0; i < 300; i++) {
      const started = performance.now();
      const response = await fetch(`${base}/v1/orders/reports`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ start_date: '2030-01-01', end_date: '2030-01-02' }),
      });
      await response.arrayBuffer();
      if (i >= 20) latencies.push(performance.now() - started); // after a warm-up
    }
    results.post = {
      requests: latencies.length,
      p50Ms: round1(percentile(latencies, 50)),
      p95Ms: round1(percentile(latencies, 95)),
      p99Ms: round1(percentile(latencies, 99)),
    };
    console.log('POST /v1/orders/reports → 202, sequential:', results.post);

    // The status route under load (autocannon, 20 connections), answering 200 on 20 reports
    // requested in turn (polls of different reports arrive together, as clients'). POST under load,
    // beside its bare tool and at every backlog, is the backlog step's.
    const pending = await postReports(base, headers, '2030-02', CONNECTIONS);
    results.api = {
      status200: await statusAgainstBare(base, bareBase, headers, pending),
      pollsUnderFlood: await pollsUnderFlood(base, headers, pending[0], { apiPid: api.pid }),
    };
    // Drop those reports (rows and jobs): the next steps measure their own reports alone.
    await redis.flushdb();
    await dataSource.query(`DELETE FROM reports`);

    // 3. 10,000- and 100,000-order reports end to end, with a separate worker process: time and
    // worker memory (the worker's Node process and its Chromium apart).
    const worker = startProcess({ ...env, APP_ROLE: 'worker' });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    try {
      // The status route answering 303, on small completed reports, before the big ones load
      // Postgres (autovacuum after 110,000 inserted orders skews it).
      const completed = await postReports(base, headers, '2030-03', CONNECTIONS);
      for (const path of completed) {
        const status = await untilFinished(base + path, headers);
        if (status !== 303) throw new Error(`${path} finished with HTTP ${status}, not 303`);
      }
      (results.api as Record<string, unknown>).status303 = await statusAgainstBare(
        base,
        bareBase,
        headers,
        completed,
      );
      results.fairness = await fairness(base, dataSource);
      console.log('A quiet client behind a flood of 40 reports:', results.fairness);
      for (const [orders, year] of SKIP.has('big')
        ? []
        : ([
            [10_000, 2021],
            [100_000, 2022],
          ] as const)) {
        await new OrdersRepository(dataSource).insertMany(
          client.id,
          generateOrders(orders, `${year}-01-01`, `${year}-12-31`),
        );
        const { figures } = await bigReport(base, headers, dataSource, worker, year);
        results[`report${orders / 1000}k`] = figures;
        console.log(`${orders}-order report, POST to 303, separate worker:`, figures);
      }
      console.log('API under load (autocannon, 20 connections, 8 s):');
      console.dir(results.api, { depth: null });
      // The same documents on both sides: Latin names, then names in mixed scripts.
      results.callbacks = await endToEnd(base, dataSource, 'latin');
      console.log('Reports with callbacks, end to end, Latin:', results.callbacks);
      results.callbacksMixed = await endToEnd(base, dataSource, 'mixed');
      console.log('Reports with callbacks, end to end, mixed scripts:', results.callbacksMixed);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((resolve) => worker.once('exit', resolve));
    }

    // 4. Bounded memory: the 100,000-order report again, on a worker whose V8 heap is capped at 64 MB
    // (a worker that held the PDF whole, or parsed it whole to join it, would run out of memory).
    if (!SKIP.has('big')) {
      const capped = startProcess({
        ...env,
        APP_ROLE: 'worker',
        NODE_OPTIONS: `--max-old-space-size=${CAPPED_HEAP_MB}`,
      });
      await sleep(3000);
      try {
        const { figures } = await bigReport(base, headers, dataSource, capped, 2022);
        results.report100kCappedHeap = { heapLimitMb: CAPPED_HEAP_MB, ...figures };
        console.log(`100,000-order report, worker heap capped at ${CAPPED_HEAP_MB} MB:`, figures);
      } finally {
        capped.kill('SIGTERM');
      }
    }

    // 5. Tracing: the status route and reports end to end with traces exported over OTLP, against
    // the same processes without tracing, in alternating rounds (bench/tracing.ts).
    if (!SKIP.has('tracing')) {
      console.log('Tracing: exported against off, on processes of its own (5-10 minutes)…');
      results.tracing = await benchTracing(env, dataSource);
    }
  } finally {
    api.kill('SIGTERM');
    bare.kill('SIGTERM');
    redis.disconnect();
    await dataSource.destroy();
  }

  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const stem = join(ROOT, 'bench', 'results', new Date().toISOString().slice(0, 10));
  writeFileSync(`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`);
  const table = summaryTable(results);
  writeFileSync(`${stem}.md`, table);
  console.log(`\n${table}\nWritten to ${stem}.json and ${stem}.md (the README carries the table)`);
}

main().catch((error: unknown) => {
  console.error(error);
  // Connections of the step that failed would keep the process waiting.
  process.exit(1);
});
