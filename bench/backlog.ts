/**
 * The backlog step: do admission and the status route cost the same with 10,000 reports waiting as
 * with none? POST (one client, and 20 clients in turn) and the status route (200 and 303), each
 * beside its bare tool in alternating rounds, with 0, 2,000 and 10,000 reports waiting.
 *
 * The backlog is made as clients make it: POSTs through the API, spread over BENCH_BACKLOG_CLIENTS
 * clients (500: 20 each at 10,000, the default bound), with no worker running (APP_ROLE=api), so
 * that whatever the service keeps beside the rows (in Postgres or Redis) is what a real backlog
 * leaves. The same API process serves every size (measured at 0, then grown to 2,000, then to
 * 10,000). What the POST rounds add is cancelled through the API (DELETE) after each round, so the
 * backlog stays at its size; cancelled reports stay in the table, as finished ones do.
 *
 * Runs inside `npm run bench`, or alone:
 *   bash scripts/with-env.sh node -r ts-node/register/transpile-only bench/backlog.ts
 * BENCH_BACKLOG_SIZES=0,200,1000 BENCH_LOAD_SECONDS=3 BENCH_ROUNDS=2 for a short trial run.
 */
import 'reflect-metadata';
import { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { ClientsService } from '../src/clients/clients.service';
import {
  alternate,
  CONNECTIONS,
  load,
  LOAD_SECONDS,
  ROOT,
  round1,
  sleep,
  standaloneStep,
  startProcess,
  waitForHttp,
} from './harness';

const BARE_QUEUE = 'bench:bare:queue';
/** Reports waiting at each measure: 0, 2,000 and 10,000 (BENCH_BACKLOG_SIZES for a trial run). */
const SIZES = (process.env.BENCH_BACKLOG_SIZES ?? '0,2000,10000').split(',').map(Number);
/** Clients the backlog is spread over. */
const BACKLOG_CLIENTS = Number(process.env.BENCH_BACKLOG_CLIENTS ?? 500);
/** Rounds of ours and of the bare tool, in turn, for each measure. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

type Headers = Record<string, string>;
interface Client {
  id: string;
  headers: Headers;
}

const reportBody = (day: number) =>
  JSON.stringify({
    start_date: `2030-01-${String(day).padStart(2, '0')}`,
    end_date: `2030-01-${String(day + 1).padStart(2, '0')}`,
  });

/** Runs `task` on every item, `concurrency` at a time. */
async function pool<T>(items: T[], concurrency: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await task(items[next++]);
    }),
  );
}

/** POSTs a report, failing on anything but 202: its status path. */
async function post(base: string, client: Client, body: string): Promise<string> {
  const answer = await fetch(`${base}/v1/orders/reports`, {
    method: 'POST',
    headers: client.headers,
    body,
  });
  if (answer.status !== 202) {
    throw new Error(`POST answered ${answer.status}: ${await answer.text()}`);
  }
  await answer.arrayBuffer();
  return answer.headers.get('location')!;
}

async function untilCompleted(base: string, client: Client, path: string) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const answer = await fetch(base + path, { headers: client.headers, redirect: 'manual' });
    await answer.arrayBuffer();
    if (answer.status === 303) return;
    await sleep(50);
  }
  throw new Error(`${path} did not complete`);
}

async function waitingCount(dataSource: DataSource): Promise<number> {
  const [{ count }] = await dataSource.query<{ count: number }[]>(
    `SELECT count(*)::int AS count FROM reports WHERE status = 'PENDING'`,
  );
  return count;
}

/**
 * The backlog step with its own API process (and, for the 303s only, a worker at first), its bare
 * tools beside it: Fastify + pg answering the status path with one SELECT by id
 * (bench/bare-status.ts), and Fastify + pg + ioredis answering POST with one INSERT and one LPUSH
 * (bench/bare-admission.ts).
 */
export async function benchBacklog(
  env: Record<string, string>,
  dataSource: DataSource,
  port = 3910,
) {
  const service = ClientsService.of(dataSource);
  const newClient = async (name: string): Promise<Client> => {
    const created = await service.create(name);
    return {
      id: created.id,
      headers: { authorization: `Bearer ${created.api_key}`, 'content-type': 'application/json' },
    };
  };
  const poller = await newClient('Backlog poller');
  const postOne = await newClient('Backlog POST, one client');
  const postMany: Client[] = [];
  for (let i = 0; i < CONNECTIONS; i++) postMany.push(await newClient(`Backlog POST ${i + 1}`));
  const backlogClients: Client[] = [];
  for (let i = 0; i < BACKLOG_CLIENTS; i++) {
    backlogClients.push(await newClient(`Backlog shop ${i + 1}`));
  }
  await dataSource.query(`DROP TABLE IF EXISTS bare_reports`);
  await dataSource.query(`CREATE TABLE bare_reports (LIKE reports INCLUDING ALL)`);

  const base = `http://127.0.0.1:${port}`;
  const bareStatusBase = `http://127.0.0.1:${port + 1}`;
  const bareAdmissionBase = `http://127.0.0.1:${port + 2}`;
  const processes: ChildProcess[] = [
    // The backlog's 500 clients come from one address here, not from 500: each new key's first
    // request counts against its address's limit on unknown keys.
    startProcess({
      ...env,
      APP_ROLE: 'api',
      PORT: String(port),
      RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '100000000',
    }),
    startProcess({ ...env, PORT: String(port + 1) }, join(ROOT, 'bench', 'bare-status.ts')),
    startProcess(
      { ...env, PORT: String(port + 2), BARE_CLIENT_ID: postOne.id },
      join(ROOT, 'bench', 'bare-admission.ts'),
    ),
  ];
  const worker = startProcess({ ...env, APP_ROLE: 'worker', PORT: String(port + 3) });
  const redis = new Redis(env.REDIS_URL);
  try {
    await Promise.all([base, bareStatusBase, bareAdmissionBase].map(waitForHttp));

    // The 303s: 20 completed reports (of empty days) polled in turn; then the worker stops, and
    // nothing renders while the backlog is measured.
    const completed: string[] = [];
    for (let day = 1; day <= CONNECTIONS; day++) {
      completed.push(await post(base, poller, reportBody(day)));
    }
    for (const path of completed) await untilCompleted(base, poller, path);
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
    // The 200s: 20 reports waiting, polled in turn (they count in the backlog).
    const waiting: string[] = [];
    for (let day = 1; day <= CONNECTIONS; day++) {
      waiting.push(await post(base, poller, reportBody(day)));
    }

    /**
     * Cancels, through the API, every report the POST rounds' clients still have waiting, until none
     * is left (a POST still in flight when its round ended may commit after the first look).
     */
    const cancelPosted = async () => {
      const clients = [postOne, ...postMany];
      const byId = new Map(clients.map((c) => [c.id, c]));
      for (;;) {
        await sleep(200);
        const rows = await dataSource.query<{ id: string; clientId: string }[]>(
          `SELECT id, client_id AS "clientId" FROM reports
            WHERE client_id = ANY($1) AND status = 'PENDING'`,
          [clients.map((c) => c.id)],
        );
        if (rows.length === 0) return;
        await cancel(rows, byId);
      }
    };
    const cancel = (rows: { id: string; clientId: string }[], byId: Map<string, Client>) =>
      pool(rows, CONNECTIONS, async ({ id, clientId }) => {
        const answer = await fetch(`${base}/v1/orders/reports/${id}`, {
          method: 'DELETE',
          headers: byId.get(clientId)!.headers,
        });
        if (answer.status !== 204) throw new Error(`DELETE answered ${answer.status}`);
        await answer.arrayBuffer();
      });

    const postLoad = (clients: Client[]) => {
      let next = 0;
      return load(`${base}/v1/orders/reports`, {
        requests: [
          {
            method: 'POST',
            setupRequest: (request: autocannon.Request) => ({
              ...request,
              headers: clients[next++ % clients.length].headers,
              body: reportBody(1 + (next % 27)),
            }),
          },
        ],
      });
    };
    const barePostLoad = () =>
      load(`${bareAdmissionBase}/v1/orders/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: reportBody(1),
      });

    let backlogPosted = 0;
    const levels = [];
    for (const size of SIZES) {
      // Grow the backlog to `size` (the 20 polled reports count in it), through the API,
      // round-robin over the backlog's clients, 20 requests at a time.
      const add = Math.max(0, size - CONNECTIONS - backlogPosted);
      const grown = performance.now();
      await pool(
        Array.from({ length: add }, (_, i) => backlogPosted + i),
        CONNECTIONS,
        async (i) => {
          await post(base, backlogClients[i % backlogClients.length], reportBody(1 + (i % 27)));
        },
      );
      backlogPosted += add;
      const growMs = performance.now() - grown;
      const reportsWaiting = await waitingCount(dataSource);
      console.log(
        `Backlog: ${reportsWaiting} reports waiting` +
          (add ? ` (${add} added through the API at ${round1((add * 1000) / growMs)} req/s)` : ''),
      );
      const level = {
        size,
        reportsWaiting,
        status200: await alternate(
          `status 200, ${size} waiting`,
          ROUNDS,
          () => load(base, { headers: poller.headers, paths: waiting }),
          () => load(bareStatusBase, { paths: waiting }),
        ),
        status303: await alternate(
          `status 303, ${size} waiting`,
          ROUNDS,
          () => load(base, { headers: poller.headers, paths: completed }),
          () => load(bareStatusBase, { paths: completed }),
        ),
        postOneClient: await alternate(
          `POST, one client, ${size} waiting`,
          ROUNDS,
          () => postLoad([postOne]),
          barePostLoad,
          cancelPosted,
        ),
        postManyClients: await alternate(
          `POST, ${CONNECTIONS} clients, ${size} waiting`,
          ROUNDS,
          () => postLoad(postMany),
          barePostLoad,
          cancelPosted,
        ),
        reportsWaitingAfter: await waitingCount(dataSource),
      };
      levels.push(level);
    }
    return { loadSeconds: LOAD_SECONDS, rounds: ROUNDS, backlogClients: BACKLOG_CLIENTS, levels };
  } finally {
    for (const child of [...processes, worker]) {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    await Promise.all(
      processes.map((child) =>
        child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : null,
      ),
    );
    await redis.del(BARE_QUEUE);
    redis.disconnect();
    await dataSource.query(`DROP TABLE IF EXISTS bare_reports`);
  }
}

export type BacklogResult = Awaited<ReturnType<typeof benchBacklog>>;

/** The backlog step's rows of the bench's table. */
export function backlogTableRows(result: BacklogResult): string[] {
  const cell = (r: { ours: { requestsPerSecond: number; p99Ms: number } }) =>
    `${r.ours.requestsPerSecond}, ${r.ours.p99Ms}`;
  const bareCell = (r: { bare: { requestsPerSecond: number; p99Ms: number } }, what: string) =>
    `${r.bare.requestsPerSecond}, ${r.bare.p99Ms} (${what}; the round beside it)`;
  const ratio = (r: { ratio: number; ratios: number[] }) =>
    `${r.ratio} (rounds: ${r.ratios.join(', ')})`;
  const median = `median of ${result.rounds} rounds`;
  return result.levels.flatMap((level) => {
    const waiting = `${level.reportsWaiting.toLocaleString('en')} waiting`;
    return [
      ...(['200', '303'] as const).map((code) => {
        const r = level[`status${code}`];
        return (
          `| status route ${code}, ${waiting} (req/s, p99 ms; ${median}) | ${cell(r)} | ` +
          `${bareCell(r, 'Fastify + pg, one SELECT by id')} | ${ratio(r)} |`
        );
      }),
      ...(['postOneClient', 'postManyClients'] as const).map((key) => {
        const r = level[key];
        const who = key === 'postOneClient' ? 'one client' : `${CONNECTIONS} clients in turn`;
        return (
          `| POST /v1/orders/reports, ${who}, ${waiting} (req/s, p99 ms; ${median}) | ${cell(r)} | ` +
          `${bareCell(r, 'Fastify + pg + ioredis, one INSERT and one LPUSH')} | ${ratio(r)} |`
        );
      }),
    ];
  });
}

if (require.main === module) {
  void (async () => {
    const { env, dataSource } = await standaloneStep();
    try {
      const result = await benchBacklog(env, dataSource);
      const table = [
        '| measure | ours | bare tool, same run | ratio |',
        '| --- | --- | --- | --- |',
        ...backlogTableRows(result),
      ].join('\n');
      mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
      const stem = join(
        ROOT,
        'bench',
        'results',
        `${new Date().toISOString().slice(0, 10)}-backlog`,
      );
      writeFileSync(`${stem}.json`, `${JSON.stringify(result, null, 2)}\n`);
      writeFileSync(`${stem}.md`, `${table}\n`);
      console.log(`\n${table}\n\nWritten to ${stem}.json and ${stem}.md`);
    } finally {
      await dataSource.destroy();
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
