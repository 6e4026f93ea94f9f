/**
 * The tracing step: the status route and reports end to end (API and worker processes, callbacks)
 * with traces exported over OTLP (http/protobuf, to a sink in this process) against the same
 * processes without tracing, in alternating rounds of the same run.
 *
 * Runs inside `npm run bench` (BENCH_SKIP=tracing leaves it out), or alone (after `npm run build`):
 *   bash scripts/with-env.sh node -r ts-node/register/transpile-only bench/tracing.ts
 * BENCH_TRACING_REPORTS=20 BENCH_TRACING_ROUNDS=1 BENCH_LOAD_SECONDS=3 for a short trial run.
 */
import 'reflect-metadata';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { clientWithOrders, fixedOrders } from './documents';
import { callbackRounds } from './end-to-end';
import { load, LoadResult, round2, standaloneStep, startProcess, waitForHttp } from './harness';

/** Rounds of each mode, alternating: off, on, off, on… */
const ROUNDS = Number(process.env.BENCH_TRACING_ROUNDS ?? 3);
/** Reports of 50 fixed orders in each end-to-end round. */
const REPORTS = Number(process.env.BENCH_TRACING_REPORTS ?? 60);
/** Reports through the service before each measured round (a fresh process warms up). */
const WARM_UP = 10;

type Mode = 'off' | 'on';

interface ModeRound {
  reportsPerMinute: number;
  postToCallbackP50Ms: number;
  status303: LoadResult;
}

/**
 * A collector's stand-in: takes OTLP/HTTP exports on `POST /v1/traces` and counts them (requests
 * and bytes), as fast as a collector on the same machine would answer.
 */
async function otlpSink() {
  const received = { requests: 0, bytes: 0 };
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (received.bytes += chunk.length));
    request.on('end', () => {
      received.requests += 1;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => server.close() };
}

/**
 * ROUNDS rounds of each mode in turn, each on fresh API and worker processes: REPORTS reports end
 * to end (POSTed at once, every callback awaited), then the status route answering 303 on those
 * reports under autocannon's load. Each "on" round is compared with the "off" round before it, and
 * the median ratio is kept (the machine drifts within a run).
 */
export async function benchTracing(env: Record<string, string>, dataSource: DataSource) {
  const client = await clientWithOrders(
    dataSource,
    'latin',
    fixedOrders(50, '2040-06-01', '2040-06-02', 'latin'),
  );
  const sink = await otlpSink();
  const { round, headers, close } = await callbackRounds(
    `http://127.0.0.1:3940`,
    dataSource,
    client.api_key,
  );
  const traced = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url };

  const measure = async (mode: Mode): Promise<ModeRound> => {
    const port = 3940;
    const base = `http://127.0.0.1:${port}`;
    const extra = mode === 'on' ? traced : {};
    const api = startProcess({ ...env, ...extra, APP_ROLE: 'api', PORT: String(port) });
    const worker = startProcess({ ...env, ...extra, APP_ROLE: 'worker', PORT: String(port + 1) });
    try {
      await Promise.all([waitForHttp(base), waitForHttp(`http://127.0.0.1:${port + 1}`)]);
      await round(WARM_UP);
      const { ids, reportsPerMinute, postToCallbackP50Ms, callbacksReceived } =
        await round(REPORTS);
      if (callbacksReceived !== ids.length) {
        throw new Error(`${mode}: ${callbacksReceived} of ${ids.length} callbacks arrived`);
      }
      const status303 = await load(base, {
        headers,
        paths: ids.map((id) => `/v1/orders/reports/status/${id}`),
      });
      return { reportsPerMinute, postToCallbackP50Ms, status303 };
    } finally {
      api.kill('SIGTERM');
      worker.kill('SIGTERM');
      await Promise.all(
        [api, worker].map((child) => new Promise((resolve) => child.once('exit', resolve))),
      );
    }
  };

  const rounds: Array<Record<Mode, ModeRound> & { statusRatio: number; endToEndRatio: number }> =
    [];
  try {
    for (let i = 0; i < ROUNDS; i += 1) {
      const off = await measure('off');
      const on = await measure('on');
      const statusRatio = round2(
        on.status303.requestsPerSecond / Math.max(1, off.status303.requestsPerSecond),
      );
      const endToEndRatio = round2(on.reportsPerMinute / off.reportsPerMinute);
      rounds.push({ off, on, statusRatio, endToEndRatio });
      console.log(
        `  tracing, round ${i + 1}/${ROUNDS}: status route 303 ${on.status303.requestsPerSecond} ` +
          `req/s traced, ${off.status303.requestsPerSecond} not (ratio ${statusRatio}); end to end ` +
          `${on.reportsPerMinute} reports/min traced, ${off.reportsPerMinute} not (ratio ${endToEndRatio})`,
      );
    }
  } finally {
    close();
    sink.close();
  }
  const median = (ratios: number[]) =>
    [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)];
  return {
    reports: REPORTS,
    statusRatio: median(rounds.map((r) => r.statusRatio)),
    endToEndRatio: median(rounds.map((r) => r.endToEndRatio)),
    statusRatios: rounds.map((r) => r.statusRatio),
    endToEndRatios: rounds.map((r) => r.endToEndRatio),
    rounds: rounds.map(({ off, on }) => ({
      statusReqPerSecond: {
        off: off.status303.requestsPerSecond,
        on: on.status303.requestsPerSecond,
      },
      statusP99Ms: { off: off.status303.p99Ms, on: on.status303.p99Ms },
      reportsPerMinute: { off: off.reportsPerMinute, on: on.reportsPerMinute },
      postToCallbackP50Ms: { off: off.postToCallbackP50Ms, on: on.postToCallbackP50Ms },
    })),
    exported: {
      requests: sink.received.requests,
      kilobytes: Math.round(sink.received.bytes / 1024),
    },
  };
}

/** The step's line in the bench's table. */
export function tracingTableRow(r: Awaited<ReturnType<typeof benchTracing>>): string {
  return (
    `| traces exported over OTLP against off: status route 303, and ${r.reports} reports end to end ` +
    `(ratios, median of ${r.rounds.length} rounds) | ${r.statusRatio}, ${r.endToEndRatio} | ` +
    `the same processes without tracing, the round before | status ${r.statusRatios.join(', ')}; ` +
    `end to end ${r.endToEndRatios.join(', ')} |`
  );
}

if (require.main === module) {
  void (async () => {
    const { env, dataSource } = await standaloneStep();
    try {
      console.log(
        'Tracing exported against off:',
        JSON.stringify(await benchTracing(env, dataSource), null, 2),
      );
    } finally {
      await dataSource.destroy();
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
