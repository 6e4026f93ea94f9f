import { ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { FairQueue } from '../../src/fair-queue/fair-queue';
import { forgetQueues, ownDatabase, testEnvironment } from '../support/env';
import {
  call,
  emptyPeriods,
  newClient,
  pollUntilDone,
  startApp,
  TestApp,
} from '../support/harness';
import { exited, killGroup, spawnWorker } from '../support/processes';
import { eventually } from '../support/receiver';

/** Queues of this spec's own: no other spec's waiting jobs interleave with its order. */
const QUEUES = { QUEUE_PREFIX: `${testEnvironment().QUEUE_PREFIX}-fair` };
const POLLING = { RATE_LIMIT_STATUS_PER_MINUTE: '100000', RATE_LIMIT_PER_MINUTE: '100000' };

describe('Fair and bounded: clients served in turn, and overload refused', () => {
  let api: TestApp;
  /** A period of its own, empty: each report renders in a fraction of a second. */
  const period = emptyPeriods(2044);
  const post = (test: TestApp, key: string) =>
    call(test, 'POST', '/v1/orders/reports', { key, json: period() });
  const startedAt = async (test: TestApp, ids: string[]) =>
    (
      await test.dataSource.query(
        `SELECT id, started_at FROM reports WHERE id = ANY($1::uuid[]) ORDER BY started_at`,
        [ids],
      )
    ).map((row: { id: string }) => row.id) as string[];
  const unfinished = async (test: TestApp, clientId: string) =>
    (
      await test.dataSource.query(
        `SELECT count(*)::int AS n FROM reports
          WHERE client_id = $1 AND status IN ('PENDING', 'IN_PROGRESS')`,
        [clientId],
      )
    )[0].n as number;

  // An API process alone: reports wait until a worker is started.
  beforeAll(async () => {
    api = await startApp({ APP_ROLE: 'api', ...QUEUES, ...POLLING });
  });
  afterAll(async () => {
    await api.close();
    const redis = new Redis(testEnvironment().REDIS_URL);
    await forgetQueues(redis, QUEUES.QUEUE_PREFIX);
    redis.disconnect();
  });

  it("renders a quiet client's report behind another's flood of 40 while most of the flood still waits", async () => {
    const roomy = await startApp({
      APP_ROLE: 'api',
      ...QUEUES,
      ...POLLING,
      REPORT_MAX_UNFINISHED_PER_CLIENT: '40',
    });
    try {
      const flood = await newClient(roomy, 'Flood');
      const quiet = await newClient(roomy, 'Quiet');
      const floodIds: string[] = [];
      for (let i = 0; i < 40; i += 1) {
        const answer = await post(roomy, flood.api_key);
        expect(answer.status).toBe(202);
        floodIds.push(answer.body.id);
      }
      const accepted = await post(roomy, quiet.api_key);
      expect(accepted.status).toBe(202);
      // Its turn is the first: of the two clients' reports, only the flood's first is ahead of it
      // (other specs' reports left PENDING in the shared database are ahead of both alike).
      const status = await call(roomy, 'GET', accepted.headers.get('location')!, {
        key: quiet.api_key,
      });
      expect(status.body.status).toBe('PENDING');
      const [{ ahead }] = await roomy.dataSource.query(
        `SELECT count(*)::int AS ahead FROM reports q, reports mine
          WHERE mine.id = $1 AND q.status = 'PENDING' AND q.client_id = ANY($2::uuid[])
            AND (q.fair_round, q.created_at, q.id) < (mine.fair_round, mine.created_at, mine.id)`,
        [accepted.body.id, [flood.id, quiet.id]],
      );
      expect(ahead).toBe(1);

      const worker = await startApp({ APP_ROLE: 'worker', ...QUEUES, RENDER_CONCURRENCY: '1' });
      try {
        const done = await pollUntilDone(roomy, quiet.api_key, accepted.headers.get('location')!);
        expect(done.status).toBe(303);
        expect(await unfinished(roomy, flood.id)).toBeGreaterThanOrEqual(30);
        // Rendered one at a time: the flood's first report, then the quiet one.
        const order = await startedAt(roomy, [...floodIds, accepted.body.id]);
        expect(order.indexOf(accepted.body.id)).toBe(1);
        await eventually(async () => (await unfinished(roomy, flood.id)) === 0, 180);
        // Within one client, first come first served.
        expect(await startedAt(roomy, floodIds)).toEqual(floodIds);
      } finally {
        await worker.close();
      }
    } finally {
      await roomy.close();
    }
  });

  it('refuses the 21st unfinished report with 429 TOO_MANY_REPORTS and Retry-After, replays at the cap, and renders the 20', async () => {
    const shop = await newClient(api, 'Capped');
    // 30 at once: the admission lock lets exactly 20 in.
    const bodies = Array.from({ length: 30 }, period);
    const answers = await Promise.all(
      bodies.map((json, i) =>
        call(api, 'POST', '/v1/orders/reports', {
          key: shop.api_key,
          json,
          headers: { 'idempotency-key': `cap-${i}` },
        }),
      ),
    );
    const accepted = answers.filter((answer) => answer.status === 202);
    const refused = answers.filter((answer) => answer.status === 429);
    expect(accepted).toHaveLength(20);
    expect(refused).toHaveLength(10);
    for (const answer of refused) {
      expect(answer.body.error_code).toBe('TOO_MANY_REPORTS');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect(await unfinished(api, shop.id)).toBe(20);

    // A replay of an accepted report is never refused, even at the cap.
    const i = answers.indexOf(accepted[0]);
    const replay = await call(api, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: bodies[i],
      headers: { 'idempotency-key': `cap-${i}` },
    });
    expect(replay.status).toBe(202);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(accepted[0].body.id);

    const worker = await startApp({ APP_ROLE: 'worker', ...QUEUES });
    try {
      for (const answer of accepted) {
        const done = await pollUntilDone(api, shop.api_key, answer.headers.get('location')!, 180);
        expect(done.status).toBe(303);
      }
      expect((await post(api, shop.api_key)).status).toBe(202);
    } finally {
      await worker.close();
    }
  });

  it('answers 503 OVERLOADED with Retry-After once REPORT_QUEUE_MAX reports wait, and loses none of those it accepted', async () => {
    const [{ waiting }] = await api.dataSource.query(
      `SELECT count(*)::int AS waiting FROM reports WHERE status = 'PENDING'`,
    );
    const small = await startApp({
      APP_ROLE: 'api',
      ...QUEUES,
      ...POLLING,
      REPORT_QUEUE_MAX: String(waiting + 5),
    });
    try {
      const shop = await newClient(small, 'Busy');
      const other = await newClient(small, 'Other');
      const accepted: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const answer = await post(small, shop.api_key);
        expect(answer.status).toBe(202);
        accepted.push(answer.headers.get('location')!);
      }
      for (const key of [shop.api_key, other.api_key]) {
        const refused = await post(small, key);
        expect(refused.status).toBe(503);
        expect(refused.body.error_code).toBe('OVERLOADED');
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      const worker = await startApp({ APP_ROLE: 'worker', ...QUEUES });
      try {
        for (const location of accepted) {
          expect((await pollUntilDone(small, shop.api_key, location, 180)).status).toBe(303);
        }
        await eventually(async () => (await post(small, other.api_key)).status === 202, 60);
      } finally {
        await worker.close();
      }
    } finally {
      await small.close();
    }
  });

  describe('with two API processes and two worker processes', () => {
    let second: TestApp;
    const workers: ChildProcess[] = [];

    beforeAll(async () => {
      second = await startApp({ APP_ROLE: 'api', ...QUEUES, ...POLLING });
    });
    afterAll(async () => {
      for (const worker of workers) killGroup(worker, 'SIGKILL');
      await Promise.all(workers.map(exited));
      await second.close();
    });

    it('keeps the fair order and the bound on unfinished reports', async () => {
      const flood = await newClient(api, 'Flood Two');
      const quiet = await newClient(api, 'Quiet Two');
      const apis = [api, second];
      const answers = [];
      for (let i = 0; i < 22; i += 1) answers.push(await post(apis[i % 2], flood.api_key));
      expect(answers.slice(0, 20).map((answer) => answer.status)).toEqual(Array(20).fill(202));
      expect(answers.slice(20).map((answer) => answer.body.error_code)).toEqual([
        'TOO_MANY_REPORTS',
        'TOO_MANY_REPORTS',
      ]);
      const accepted = await post(second, quiet.api_key);
      expect(accepted.status).toBe(202);

      for (let i = 0; i < 2; i += 1)
        workers.push(spawnWorker({ ...QUEUES, RENDER_CONCURRENCY: '1' }));
      const done = await pollUntilDone(api, quiet.api_key, accepted.headers.get('location')!, 180);
      expect(done.status).toBe(303);
      const floodIds = answers.slice(0, 20).map((answer) => answer.body.id as string);
      // Two workers, one render each at a time: the quiet report is among the first three.
      const order = await startedAt(api, [...floodIds, accepted.body.id]);
      expect(order.indexOf(accepted.body.id)).toBeLessThanOrEqual(2);
      await eventually(async () => (await unfinished(api, flood.id)) === 0, 180);
    });
  });

  // Last: its app leaves DATABASE_URL pointing at its own database for the specs' next apps.
  describe('in a database of its own (the turn served is the lowest PENDING of all clients)', () => {
    const OWN_QUEUES = `${testEnvironment().QUEUE_PREFIX}-turns`;
    let own: TestApp;

    beforeAll(async () => {
      const database = await ownDatabase('turns');
      // A deployment of its own: its database and its queues (the fair order lives in Redis too).
      own = await startApp({
        APP_ROLE: 'api',
        QUEUE_PREFIX: OWN_QUEUES,
        DATABASE_URL: database,
      });
    });
    afterAll(async () => {
      await own.close();
      const redis = new Redis(testEnvironment().REDIS_URL);
      await forgetQueues(redis, OWN_QUEUES);
      redis.disconnect();
    });

    it('puts newcomers in the turn being served, first come first served among them', async () => {
      const busy = await newClient(own, 'Busy turns');
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) ids.push((await post(own, busy.api_key)).body.id);
      // Its first three served: the turn now served is its fourth report's.
      await own.dataSource.query(
        `UPDATE reports SET status = 'COMPLETED', completed_at = now() WHERE id = ANY($1::uuid[])`,
        [ids.slice(0, 3)],
      );
      // Finished behind the service's back: the sweep tells the fair queue.
      await own.app.get(FairQueue).reconcile();
      const first = await newClient(own, 'Newcomer 1');
      const second = await newClient(own, 'Newcomer 2');
      const a = (await post(own, first.api_key)).body.id;
      const b = (await post(own, second.api_key)).body.id;
      const order = (
        await own.dataSource.query(
          `SELECT id FROM reports WHERE id = ANY($1::uuid[]) ORDER BY fair_round, created_at, id`,
          [[ids[3], ids[4], a, b]],
        )
      ).map((row: { id: string }) => row.id);
      expect(order).toEqual([ids[3], a, b, ids[4]]);
    });
  });
});
