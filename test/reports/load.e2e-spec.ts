import { generateOrders } from '../../src/orders/order-seed';
import {
  call,
  insertOrders,
  newClient,
  pollUntilDone,
  startApp,
  TestApp,
} from '../support/harness';
import { eventually, Receiver } from '../support/receiver';

describe('Load: 200 reports asked at once by 5 clients, with callbacks', () => {
  let test: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await new Receiver().start();
    test = await startApp({
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
      CALLBACK_RETRY_DELAYS_MS: '500,1000',
      RATE_LIMIT_PER_MINUTE: '100000',
      RATE_LIMIT_STATUS_PER_MINUTE: '100000',
      // 40 at once per client: the render path under load, not the bound (test/reports/fairness).
      REPORT_MAX_UNFINISHED_PER_CLIENT: '40',
    });
  });
  afterAll(async () => {
    await test.close();
    await receiver.stop();
  });

  it('completes every report, loses none, renders none twice to the client, sends each callback once', async () => {
    const clients = await Promise.all(
      Array.from({ length: 5 }, (_, i) => newClient(test, `Load ${i}`)),
    );
    for (const client of clients) {
      await insertOrders(test, client.id, generateOrders(40, '2036-01-01', '2036-03-01'));
    }
    const started = Date.now();
    const accepted = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const client = clients[i % 5];
        const day = String(1 + (i % 28)).padStart(2, '0');
        return call(test, 'POST', '/v1/orders/reports', {
          key: client.api_key,
          json: {
            start_date: `2036-01-${day}`,
            end_date: '2036-03-01',
            callback_url: receiver.script(`/load-${i}`, { status: 204 }),
          },
          headers: { 'idempotency-key': `load-${i}` },
        }).then((answer) => ({ answer, client, i }));
      }),
    );
    expect(accepted.map(({ answer }) => answer.status)).toEqual(Array(200).fill(202));
    const ids = accepted.map(({ answer }) => answer.body.id as string);
    expect(new Set(ids).size).toBe(200);

    for (const { answer, client } of accepted) {
      const done = await pollUntilDone(test, client.api_key, answer.headers.get('location')!, 300);
      expect(done.status).toBe(303);
    }
    const wallMs = Date.now() - started;
    await eventually(
      async () => receiver.received.filter((r) => r.path.startsWith('/load-')).length >= 200,
      120,
    );
    await new Promise((resolve) => setTimeout(resolve, 2000)); // time for a duplicate to show up
    for (let i = 0; i < 200; i += 1) expect(receiver.at(`/load-${i}`)).toHaveLength(1);

    const rows = await test.dataSource.query(
      `SELECT r.status, count(DISTINCT f.report_id)::int AS files, count(DISTINCT e.id)::int AS events
         FROM reports r LEFT JOIN report_file_chunks f ON f.report_id = r.id LEFT JOIN callback_events e ON e.report_id = r.id
        WHERE r.id = ANY($1) GROUP BY r.status`,
      [ids],
    );
    expect(rows).toEqual([{ status: 'COMPLETED', files: 200, events: 200 }]);
    console.log(
      `Load: 200 reports by 5 clients completed in ${wallMs} ms, 200 callbacks delivered once each`,
    );
  });
});
