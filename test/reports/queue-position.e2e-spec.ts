import { randomUUID } from 'node:crypto';
import { AddressInfo, createServer } from 'node:net';
import Redis from 'ioredis';
import { FairQueue } from '../../src/fair-queue/fair-queue';
import { RenderQueue } from '../../src/reports/admission/render-queue';
import { databaseBeside, forgetQueues, ownDatabase, testEnvironment } from '../support/env';
import {
  Answer,
  call,
  emptyPeriods,
  newClient,
  pollUntilDone,
  startApp,
  TestApp,
} from '../support/harness';
import { exited, killGroup, spawnWorker } from '../support/processes';
import { eventually } from '../support/receiver';

/**
 * Admission and the place in the queue, kept in Redis beside the rows (FairQueue): exact bounds
 * across API processes, rebuilt from Postgres when Redis loses them, and each waiting report's
 * place in the fair order. A database and queues of its own: every report in it is this spec's.
 */
const QUEUES = { QUEUE_PREFIX: `${testEnvironment().QUEUE_PREFIX}-places` };
/** A port nobody listens on now. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
const OWN = {
  ...QUEUES,
  DATABASE_URL: databaseBeside('places'),
  RATE_LIMIT_PER_MINUTE: '100000',
  RATE_LIMIT_STATUS_PER_MINUTE: '100000',
  REPORT_MAX_UNFINISHED_PER_CLIENT: '20',
  REPORT_QUEUE_MAX: '30',
  SWEEP_INTERVAL_MS: '2000',
};

describe('Admission and queue places in constant time, exact across API processes', () => {
  let apis: TestApp[] = [];
  /** A period of its own, empty: each report renders in a fraction of a second. */
  const period = emptyPeriods(2045);
  const post = (test: TestApp, key: string) =>
    call(test, 'POST', '/v1/orders/reports', { key, json: period() });
  const statuses = (answers: Answer[]) => {
    const counts: Record<number, number> = {};
    for (const answer of answers) counts[answer.status] = (counts[answer.status] ?? 0) + 1;
    return counts;
  };
  const poll = (key: string, id: string) =>
    call(apis[0], 'GET', `/v1/orders/reports/status/${id}`, { key });
  const unfinished = async () =>
    (
      await apis[0].dataSource.query(
        `SELECT count(*)::int AS n FROM reports WHERE status IN ('PENDING', 'IN_PROGRESS')`,
      )
    )[0].n as number;
  const drain = async () => {
    const worker = await startApp({ ...OWN, APP_ROLE: 'worker' });
    try {
      await eventually(async () => (await unfinished()) === 0, 180);
    } finally {
      await worker.close();
    }
  };

  beforeAll(async () => {
    await ownDatabase('places');
    // Two API processes and no worker: reports wait until a test starts one.
    apis = [
      await startApp({ ...OWN, APP_ROLE: 'api' }),
      await startApp({ ...OWN, APP_ROLE: 'api' }),
    ];
  });
  afterAll(async () => {
    for (const api of apis) await api.close();
    const redis = new Redis(testEnvironment().REDIS_URL);
    await forgetQueues(redis, QUEUES.QUEUE_PREFIX);
    redis.disconnect();
  });

  it('holds both bounds exactly under 50 concurrent POSTs from one client over two API processes', async () => {
    const flood = await newClient(apis[0], 'Flood');
    const second = await newClient(apis[0], 'Second');
    const floodAnswers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => post(apis[i % 2], flood.api_key)),
    );
    expect(statuses(floodAnswers)).toEqual({ 202: 20, 429: 30 });
    expect(
      floodAnswers
        .filter((a) => a.status === 429)
        .every((a) => a.body.error_code === 'TOO_MANY_REPORTS'),
    ).toBe(true);
    // REPORT_QUEUE_MAX is 30: ten more wait, whoever asks.
    const secondAnswers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => post(apis[i % 2], second.api_key)),
    );
    expect(statuses(secondAnswers)).toEqual({ 202: 10, 503: 40 });
    expect(secondAnswers.filter((a) => a.status === 503)[0].body.error_code).toBe('OVERLOADED');
    expect(await unfinished()).toBe(30);

    // Redis loses everything: the counts come back from Postgres, exact.
    const redis = new Redis(testEnvironment().REDIS_URL);
    await forgetQueues(redis, QUEUES.QUEUE_PREFIX);
    redis.disconnect();
    expect((await post(apis[1], flood.api_key)).body.error_code).toBe('TOO_MANY_REPORTS');
    expect((await post(apis[0], second.api_key)).body.error_code).toBe('OVERLOADED');
    // Each report's place is the number of reports before it in the fair order (turn, then
    // arrival), as Postgres would count them: Flood's in turns 1..20, Second's joined turns 1..10.
    const rows: Array<{ id: string; client_id: string; ahead: number }> =
      await apis[0].dataSource.query(
        `SELECT id, client_id, (SELECT count(*)::int FROM reports ahead
                  WHERE ahead.status = 'PENDING'
                    AND (ahead.fair_round, ahead.created_at, ahead.id)
                      < (r.fair_round, r.created_at, r.id)) AS ahead
           FROM reports r WHERE status = 'PENDING'`,
      );
    expect(rows).toHaveLength(30);
    expect(Math.max(...rows.filter((r) => r.client_id === second.id).map((r) => r.ahead))).toBe(19);
    for (const row of rows) {
      const key = row.client_id === flood.id ? flood.api_key : second.api_key;
      expect((await poll(key, row.id)).body.queue_position).toBe(row.ahead);
    }

    // Nothing accepted is lost: the queue's jobs were flushed too, and the sweep queues them again.
    await drain();
    const accepted = [...floodAnswers, ...secondAnswers].filter((a) => a.status === 202);
    const [{ completed }] = await apis[0].dataSource.query(
      `SELECT count(*)::int AS completed FROM reports WHERE status = 'COMPLETED' AND id = ANY($1::uuid[])`,
      [accepted.map((a) => a.body.id)],
    );
    expect(completed).toBe(30);
  });

  it('puts right what a process killed mid-admission leaves: places reserved for reports never stored', async () => {
    const shop = await newClient(apis[0], 'Crashed into');
    // What 20 admissions killed between their reservation and their INSERT leave behind.
    const queue = apis[0].app.get(FairQueue);
    for (let i = 0; i < 20; i += 1) {
      const verdict = await queue.admit(shop.id, randomUUID(), {
        unfinishedPerClient: 20,
        waiting: 30,
      });
      expect(verdict.verdict).toBe('admitted');
    }
    // A rebuild asked for once the numbers exist (a process that saw them missing, late) keeps
    // the places reserved since: it does nothing.
    await queue.rebuild();
    expect((await post(apis[0], shop.api_key)).body.error_code).toBe('TOO_MANY_REPORTS');
    // The sweep (in a worker, every SWEEP_INTERVAL_MS) takes a place out once it has seen it twice
    // with no report behind it: an admission under way reserves its place just before its INSERT.
    expect(await queue.reconcile()).toBe(0);
    expect(await queue.reconcile()).toBe(20);
    const answer = await post(apis[1], shop.api_key);
    expect(answer.status).toBe(202);
    expect((await poll(shop.api_key, answer.body.id)).body.queue_position).toBe(0);
    await drain();
  });

  it('keeps the bound exact after an API process is killed in the middle of admissions', async () => {
    const shop = await newClient(apis[0], 'Killed mid-flood');
    const port = await freePort();
    const doomed = spawnWorker({ ...OWN, APP_ROLE: 'api', PORT: String(port) });
    try {
      await eventually(async () => {
        const health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        return health?.status === 200;
      }, 60);
      const flood = Array.from({ length: 50 }, () =>
        fetch(`http://127.0.0.1:${port}/v1/orders/reports`, {
          method: 'POST',
          headers: { authorization: `Bearer ${shop.api_key}`, 'content-type': 'application/json' },
          body: JSON.stringify(period()),
        }).catch(() => undefined),
      );
      await new Promise((resolve) => setTimeout(resolve, 30));
      killGroup(doomed, 'SIGKILL');
      await Promise.all(flood);
    } finally {
      killGroup(doomed, 'SIGKILL');
      await exited(doomed);
    }
    // What the sweep does, every SWEEP_INTERVAL_MS in a worker: put back, and take out twice-seen.
    await new Promise((resolve) => setTimeout(resolve, 5500)); // past the sweep's grace for new rows
    const renderQueue = apis[0].app.get(RenderQueue);
    const queue = apis[0].app.get(FairQueue);
    for (let pass = 0; pass < 2; pass += 1) {
      await renderQueue.requeueUnfinished(1000);
      await queue.reconcile();
    }
    const stored = async () =>
      (
        await apis[0].dataSource.query(
          `SELECT count(*)::int AS n FROM reports WHERE client_id = $1 AND status = 'PENDING'`,
          [shop.id],
        )
      )[0].n as number;
    const before = await stored();
    // Exactly up to the bound, from the other process: no place lost, none left behind.
    const more = await Promise.all(
      Array.from({ length: 25 }, (_, i) => post(apis[i % 2], shop.api_key)),
    );
    expect(statuses(more)).toEqual(
      before >= 20 ? { 429: 25 } : { 202: 20 - before, 429: 5 + before },
    );
    expect(await stored()).toBe(20);
    await drain();
  });

  // Before FairQueue, each admission waited on its client's advisory lock holding a pooled
  // connection: this burst got 368 × 503 SERVICE_UNAVAILABLE (the pool exhausted), 12 × 429.
  it("holds no pooled connection on another's lock: a burst of one client's POSTs leaves another's polls answered", async () => {
    const burst = await newClient(apis[0], 'Burst');
    const other = await newClient(apis[0], 'Polling meanwhile');
    const mine = await post(apis[0], other.api_key);
    expect(mine.status).toBe(202);
    const [posts, polls] = await Promise.all([
      Promise.all(Array.from({ length: 400 }, () => post(apis[0], burst.api_key))),
      Promise.all(Array.from({ length: 30 }, () => poll(other.api_key, mine.body.id))),
    ]);
    expect(statuses(polls)).toEqual({ 200: 30 });
    expect(statuses(posts)).toEqual({ 202: 20, 429: 380 });
    await drain();
  });

  it('tells each waiting report its exact place in the fair order, falling as reports render', async () => {
    const [a, b, c] = [
      await newClient(apis[0], 'A'),
      await newClient(apis[0], 'B'),
      await newClient(apis[0], 'C'),
    ];
    const ids: Record<string, string> = {};
    for (const [name, key] of [
      ['a1', a.api_key],
      ['a2', a.api_key],
      ['a3', a.api_key],
      ['b1', b.api_key],
      ['b2', b.api_key],
      ['c1', c.api_key],
    ]) {
      const answer = await post(apis[Object.keys(ids).length % 2], key);
      expect(answer.status).toBe(202);
      ids[name] = answer.body.id;
    }
    const keyOf = (name: string) => ({ a: a.api_key, b: b.api_key, c: c.api_key })[name[0]]!;
    const place = async (name: string) => (await poll(keyOf(name), ids[name])).body;
    // Turn 1: a1, b1, c1; turn 2: a2, b2; turn 3: a3.
    const expected = { a1: 0, b1: 1, c1: 2, a2: 3, b2: 4, a3: 5 };
    const before: Record<string, { queue_position: number; estimated_completion_at: string }> = {};
    for (const name of Object.keys(expected)) {
      before[name] = await place(name);
      expect(before[name]).toMatchObject({
        status: 'PENDING',
        queue_position: expected[name as keyof typeof expected],
      });
      expect(Date.parse(before[name].estimated_completion_at)).toBeGreaterThan(Date.now());
    }
    // Later places are estimated later.
    expect(Date.parse(before.a3.estimated_completion_at)).toBeGreaterThan(
      Date.parse(before.a1.estimated_completion_at),
    );

    // One worker, one render at a time: the places fall as the queue moves.
    const worker = await startApp({ ...OWN, APP_ROLE: 'worker', RENDER_CONCURRENCY: '1' });
    try {
      const seen = new Set<number>();
      await eventually(async () => {
        const now = await place('a3');
        if (now.status === 'PENDING') seen.add(now.queue_position);
        return now.status !== 'PENDING';
      }, 120);
      expect(Math.min(...seen)).toBeLessThan(5);
      for (const name of Object.keys(expected)) {
        const done = await pollUntilDone(
          apis[0],
          keyOf(name),
          `/v1/orders/reports/status/${ids[name]}`,
          120,
        );
        expect(done.status).toBe(303);
      }
    } finally {
      await worker.close();
    }
  });
});
