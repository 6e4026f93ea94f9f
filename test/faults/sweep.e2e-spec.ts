import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import Redis from 'ioredis';
import { SWEEP_BATCH } from '../../src/reports/sweep/report-sweeper';
import { forgetQueues, testEnvironment } from '../support/env';
import { newClient, startApp, sweeperOf, TestApp } from '../support/harness';

describe('The sweep: what Postgres holds and Redis forgot is queued again', () => {
  let test: TestApp;
  const redis = new Redis(testEnvironment().REDIS_URL);

  // API only: no worker takes the jobs, and no sweep runs on a timer beside the ones called here.
  beforeAll(async () => {
    test = await startApp({ APP_ROLE: 'api' });
  });
  afterAll(async () => {
    await forgetQueues(redis);
    redis.disconnect();
    await test.close();
  });

  it('checks a backlog larger than one batch in turn: reports behind a batch whose jobs exist are queued too', async () => {
    const shop = await newClient(test);
    const rows: { id: string }[] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date, created_at)
       SELECT $1, '2040-01-01', '2040-01-02', '2000-01-01'::timestamptz + n * interval '1 ms'
         FROM generate_series(1, $2::int) AS n
       RETURNING id, created_at`,
      [shop.id, SWEEP_BATCH + 500],
    );
    const oldestFirst = (
      await test.dataSource.query(
        `SELECT id FROM reports WHERE client_id = $1 ORDER BY created_at, id`,
        [shop.id],
      )
    ).map((row: { id: string }) => row.id);
    expect(oldestFirst).toHaveLength(rows.length);
    // Redis still holds the oldest batch's jobs, and has forgotten the 500 behind them.
    const queue = test.app.get<Queue>(getQueueToken('report-render'));
    await queue.addBulk(
      oldestFirst
        .slice(0, SWEEP_BATCH)
        .map((reportId: string) => ({ data: { reportId }, opts: { jobId: reportId } })),
    );

    // These are the oldest unfinished reports in the database (created in 2000); the suite's other
    // specs may have left younger ones, which the second pass also checks.
    // An API process runs no sweep: this one is built from its parts, and never started on a timer.
    const sweeper = sweeperOf(test);
    try {
      expect((await sweeper.sweep()).reports).toBe(0);
      expect((await sweeper.sweep()).reports).toBeGreaterThanOrEqual(500);
      const jobs = await Promise.all(oldestFirst.map((id: string) => queue.getJob(id)));
      expect(jobs.filter((job) => job === null)).toHaveLength(0);
      // Back at the oldest: the very first report's job, lost now, is the only one queued again.
      await (await queue.getJob(oldestFirst[0]))!.remove();
      expect((await sweeper.sweep()).reports).toBe(1);
      expect(await queue.getJob(oldestFirst[0])).not.toBeNull();
    } finally {
      await test.dataSource.query(`DELETE FROM clients WHERE id = $1`, [shop.id]);
    }
  });
});
