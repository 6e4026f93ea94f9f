import { ChildProcess } from 'node:child_process';
import { testEnvironment } from '../support/env';
import { Answer, call, newClient, startApp, TestApp } from '../support/harness';
import { exited, killGroup, spawnWorker } from '../support/processes';
import { eventually, Receiver } from '../support/receiver';
import { TcpProxy } from '../support/tcp-proxy';

const CALLBACKS = {
  CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
  // Two attempts in all.
  CALLBACK_RETRY_DELAYS_MS: '300',
  CALLBACK_TIMEOUT_MS: '5000',
  RENDER_STALL_TIMEOUT_MS: '4000',
  SWEEP_INTERVAL_MS: '1000',
  // The specs poll the status route as fast as they can.
  RATE_LIMIT_STATUS_PER_MINUTE: '100000',
};

describe('A callback is sent no more often than its schedule allows, whatever fails around it', () => {
  let receiver: Receiver;
  let periods = 0;

  beforeAll(async () => {
    receiver = await new Receiver().start();
  });
  afterAll(() => receiver.stop());

  /** An empty day of its own: each report renders quickly. */
  function period() {
    periods += 1;
    return {
      start_date: new Date(Date.UTC(2046, 0, periods)).toISOString().slice(0, 10),
      end_date: new Date(Date.UTC(2046, 0, periods + 1)).toISOString().slice(0, 10),
    };
  }

  const callbackOf = async (test: TestApp, key: string, id: string) =>
    (await call(test, 'GET', `/v1/orders/reports/status/${id}`, { key })).body.callback as {
      status: string;
      attempts: number;
    } | null;

  describe('a worker killed between a POST and its record', () => {
    let api: TestApp;
    const workers: ChildProcess[] = [];

    beforeAll(async () => {
      api = await startApp({ APP_ROLE: 'api', ...CALLBACKS });
    });
    afterAll(async () => {
      for (const worker of workers) if (worker.exitCode === null) killGroup(worker, 'SIGKILL');
      await api.close();
    });

    it('counts the send before making it, records it as interrupted, and goes on with the schedule', async () => {
      const shop = await newClient(api);
      // The first POST is held unanswered: the worker is killed while it waits for the answer.
      const url = receiver.script('/killed', 'hang', { status: 200 });
      const first = spawnWorker(CALLBACKS);
      workers.push(first);
      const accepted = await call(api, 'POST', '/v1/orders/reports', {
        key: shop.api_key,
        json: { ...period(), callback_url: url },
      });
      expect(accepted.status).toBe(202);
      const id = accepted.body.id as string;
      await eventually(async () => receiver.at('/killed').length === 1, 90);
      killGroup(first, 'SIGKILL');
      await exited(first);

      // Counted in Postgres before it was sent.
      const [event] = await api.dataSource.query(
        `SELECT attempts, sending_since IS NOT NULL AS sending FROM callback_events
          WHERE report_id = $1`,
        [id],
      );
      expect(event).toEqual({ attempts: 1, sending: true });

      const second = spawnWorker(CALLBACKS);
      workers.push(second);
      await eventually(
        async () => (await callbackOf(api, shop.api_key, id))?.status === 'DELIVERED',
        120,
      );
      expect(await callbackOf(api, shop.api_key, id)).toEqual({
        status: 'DELIVERED',
        attempts: 2,
      });
      // The schedule's two sends, no more: Bull taking the dead worker's job again sent nothing.
      expect(receiver.at('/killed')).toHaveLength(2);
      const listed = await call(api, 'GET', `/v1/orders/reports/${id}/callbacks`, {
        key: shop.api_key,
      });
      expect(
        listed.body.data.map((a: { attempt: number; status_code: number; error: string }) => [
          a.attempt,
          a.status_code,
          a.error,
        ]),
      ).toEqual([
        [1, null, 'interrupted'],
        [2, 200, null],
      ]);
      killGroup(second, 'SIGKILL');
      await exited(second);
    }, 240_000);
  });

  describe('Redis away', () => {
    it('a redeliver still answers 202 at once, and the event is sent once Redis is back', async () => {
      const env = testEnvironment();
      const proxy = await TcpProxy.for(env.REDIS_URL).start();
      const test = await startApp({ REDIS_URL: proxy.url(env.REDIS_URL), ...CALLBACKS });
      let away = false;
      try {
        const shop = await newClient(test);
        const url = receiver.script('/redis-away', { status: 200 });
        const accepted = await call(test, 'POST', '/v1/orders/reports', {
          key: shop.api_key,
          json: { ...period(), callback_url: url },
        });
        const id = accepted.body.id as string;
        await eventually(
          async () => (await callbackOf(test, shop.api_key, id))?.status === 'DELIVERED',
          60,
        );

        await proxy.cut();
        away = true;
        // A request that hangs is no answer: it is given up after a while, far longer than the
        // redeliver may take.
        const answer = await Promise.race<Answer | 'no answer'>([
          call(test, 'POST', `/v1/orders/reports/${id}/callbacks/redeliver`, {
            key: shop.api_key,
          }),
          new Promise((resolve) => setTimeout(() => resolve('no answer'), 20_000)),
        ]);
        expect(answer).not.toBe('no answer');
        expect((answer as Answer).status).toBe(202);
        expect((answer as Answer).body).toEqual({
          id,
          callback: { status: 'PENDING', attempts: 1 },
        });

        await proxy.restore();
        away = false;
        await eventually(async () => receiver.at('/redis-away').length === 2, 60);
        await eventually(
          async () => (await callbackOf(test, shop.api_key, id))?.attempts === 2,
          30,
        );
        expect(await callbackOf(test, shop.api_key, id)).toEqual({
          status: 'DELIVERED',
          attempts: 2,
        });
      } finally {
        if (away) await proxy.restore();
        await test.close();
        await proxy.stop();
      }
    });
  });
});
