import { ReportEvents } from '../../src/reports/store/report-events';
import {
  Answer,
  call,
  emptyPeriods,
  newClient,
  order,
  startApp,
  TestApp,
} from '../support/harness';
import { eventually } from '../support/receiver';

type Shop = { id: string; api_key: string };

const post = (test: TestApp, shop: Shop, json: object, headers: Record<string, string> = {}) =>
  call(test, 'POST', '/v1/orders/reports', { key: shop.api_key, json, headers });

/** A status request held by Prefer: wait=30 until `leave()`, as a polling client holds one. */
function holdStatus(test: TestApp, shop: Shop, id: string) {
  const controller = new AbortController();
  const request = fetch(`${test.url}/v1/orders/reports/status/${id}`, {
    headers: { authorization: `Bearer ${shop.api_key}`, prefer: 'wait=30' },
    signal: controller.signal,
  }).catch((error: unknown) => error);
  return {
    leave: async () => {
      controller.abort();
      await request;
    },
  };
}

describe('One round trip: Prefer on POST /v1/orders/reports', () => {
  describe('with no worker to render (every report stays PENDING)', () => {
    let api: TestApp;
    let events: ReportEvents;
    const period = emptyPeriods(2041);
    const shops: string[] = [];
    const newShop = async () => {
      const shop = await newClient(api);
      shops.push(shop.id);
      return shop;
    };

    beforeAll(async () => {
      // One held request per client and two per process, so that both caps can be reached.
      api = await startApp({
        APP_ROLE: 'api',
        LONG_POLL_MAX_PER_CLIENT: '1',
        LONG_POLL_MAX_PER_PROCESS: '2',
      });
      events = api.app.get(ReportEvents);
    });
    afterAll(async () => {
      // Their reports stay PENDING, their jobs queued: gone with them, so that the worker of a spec
      // run after this one does not render them (and count them in its metrics).
      await api.dataSource.query(`DELETE FROM clients WHERE id = ANY($1::uuid[])`, [shops]);
      await api.close();
    });

    it('answers the usual 202 after N seconds when the report is not done, with Preference-Applied', async () => {
      const shop = await newShop();
      const started = Date.now();
      const answer = await post(api, shop, period(), { prefer: 'wait=2' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500); // held, not answered at once
      expect(answer.status).toBe(202);
      expect(answer.headers.get('preference-applied')).toBe('wait=2');
      const id = answer.body.id as string;
      expect(answer.headers.get('location')).toBe(`/v1/orders/reports/status/${id}`);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(answer.body).toEqual({
        id,
        status: 'PENDING',
        time_zone: 'UTC',
        links: [{ rel: 'status', href: `/v1/orders/reports/status/${id}` }],
      });
      expect(events.held).toBe(0);
    });

    it('answers respond-async with the 202 at once, even beside a wait', async () => {
      const shop = await newShop();
      for (const prefer of [
        'respond-async',
        'respond-async, wait=30',
        'wait=30; x=1, respond-async',
      ]) {
        const started = Date.now();
        const answer = await post(api, shop, period(), { prefer });
        expect(Date.now() - started).toBeLessThan(25_000); // not held to the 30 s deadline
        expect(answer.status).toBe(202);
        expect(answer.body.status).toBe('PENDING');
        expect(answer.headers.get('location')).toBe(`/v1/orders/reports/status/${answer.body.id}`);
        expect(answer.headers.get('preference-applied')).toBeNull();
      }
      expect(events.held).toBe(0);
    });

    it('ignores a Prefer it cannot read, as the status route does: the 202 at once', async () => {
      const shop = await newShop();
      for (const prefer of [
        'wait=abc',
        'wait=-1',
        'wait=1.5',
        'wait=',
        'await=5',
        'return=minimal',
      ]) {
        const answer = await post(api, shop, period(), { prefer });
        expect(answer.status).toBe(202);
        expect(answer.body.status).toBe('PENDING');
        expect(answer.headers.get('preference-applied')).toBeNull();
      }
    });

    it('holds through IN_PROGRESS and answers exactly the status route FAILED answer once it fails', async () => {
      const shop = await newShop();
      const held = post(api, shop, period(), { prefer: 'wait=30' });
      let answered = false;
      void held.then(() => (answered = true));
      await eventually(async () => events.held === 1, 20);
      const [{ id }] = await api.dataSource.query(`SELECT id FROM reports WHERE client_id = $1`, [
        shop.id,
      ]);
      // A worker claims it: the request wakes, reads IN_PROGRESS, and waits on for the end.
      const probe = await events.subscribe(id, new AbortController().signal);
      try {
        await api.dataSource.query(
          `UPDATE reports SET status = 'IN_PROGRESS', started_at = now() WHERE id = $1`,
          [id],
        );
        await events.publish(id);
        await eventually(async () => probe.changed, 10);
      } finally {
        probe.dispose();
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(answered).toBe(false);
      expect(events.held).toBe(1);

      await api.dataSource.query(
        `UPDATE reports SET status = 'FAILED', error_code = 'RENDER_FAILED',
           error_message = 'The PDF could not be rendered', completed_at = now() WHERE id = $1`,
        [id],
      );
      await events.publish(id);
      const answer = await held;
      expect(answer.status).toBe(200);
      expect(answer.headers.get('preference-applied')).toBe('wait=30');
      expect(answer.body).toEqual({
        id,
        status: 'FAILED',
        time_zone: 'UTC',
        error: { error_code: 'RENDER_FAILED', error_message: 'The PDF could not be rendered' },
      });
      const status = await call(api, 'GET', `/v1/orders/reports/status/${id}`, {
        key: shop.api_key,
      });
      expect(status.status).toBe(answer.status);
      expect(status.body).toEqual(answer.body);
      expect(events.held).toBe(0);
    });

    it('answers the 202 at once, without Preference-Applied, when the client or the process holds its most', async () => {
      const first = await newShop();
      const second = await newShop();
      const third = await newShop();
      const accepted = await post(api, first, period());
      const firstHold = holdStatus(api, first, accepted.body.id);
      let secondHold: { leave(): Promise<void> } | undefined;
      try {
        await eventually(async () => events.held === 1, 20);
        // The client holds its one: its POST is not held.
        const capped = await post(api, first, period(), { prefer: 'wait=20' });
        expect(capped.status).toBe(202);
        expect(capped.headers.get('preference-applied')).toBeNull();

        // Another client's is: the cap is the client's, not yet the process's.
        const other = await post(api, second, period(), { prefer: 'wait=1' });
        expect(other.status).toBe(202);
        expect(other.headers.get('preference-applied')).toBe('wait=1');

        // Two held in the process: a third client's POST is not held either.
        secondHold = holdStatus(api, second, other.body.id);
        await eventually(async () => events.held === 2, 20);
        const full = await post(api, third, period(), { prefer: 'wait=20' });
        expect(full.status).toBe(202);
        expect(full.headers.get('preference-applied')).toBeNull();
        expect(events.held).toBe(2);
      } finally {
        await firstHold.leave();
        await secondHold?.leave();
      }
      await eventually(async () => events.held === 0, 10);
    });

    it('ends the wait when the client goes away', async () => {
      const shop = await newShop();
      const controller = new AbortController();
      const request = fetch(`${api.url}/v1/orders/reports`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${shop.api_key}`,
          'content-type': 'application/json',
          prefer: 'wait=30',
        },
        body: JSON.stringify(period()),
        signal: controller.signal,
      }).catch((error: unknown) => error);
      await eventually(async () => events.held === 1, 20);
      controller.abort();
      await request;
      await eventually(async () => events.held === 0, 5);
    });
  });

  describe('with a worker rendering', () => {
    let test: TestApp;
    let shop: Shop;

    beforeAll(async () => {
      test = await startApp();
      shop = await newClient(test);
      for (const [number, placedAt] of [
        ['PW-1', '2042-03-01T09:00:00Z'],
        ['PW-2', '2042-03-02T18:30:00Z'],
      ]) {
        const created = await call(test, 'POST', '/v1/orders', {
          key: shop.api_key,
          json: order(number, placedAt),
        });
        expect(created.status).toBe(201);
      }
    });
    afterAll(() => test.close());

    const expectCompleted = async (answer: Answer) => {
      expect(answer.status).toBe(303);
      const id = answer.body.id as string;
      expect(answer.headers.get('location')).toBe(`/v1/orders/reports/${id}`);
      expect(answer.body.status).toBe('COMPLETED');
      const status = await call(test, 'GET', `/v1/orders/reports/status/${id}`, {
        key: shop.api_key,
      });
      expect(status.status).toBe(303);
      expect(status.body).toEqual(answer.body); // exactly what the status route answers
      const pdf = await call(test, 'GET', answer.headers.get('location')!, { key: shop.api_key });
      expect(pdf.status).toBe(200);
      expect(pdf.bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    };

    it('answers a small report in one round trip: 303 to the PDF, with Preference-Applied', async () => {
      const answer = await post(
        test,
        shop,
        { start_date: '2042-03-01', end_date: '2042-04-01' },
        { prefer: 'wait=20' },
      );
      expect(answer.headers.get('preference-applied')).toBe('wait=20');
      expect(answer.headers.get('idempotent-replayed')).toBeNull();
      await expectCompleted(answer);
      expect(test.app.get(ReportEvents).held).toBe(0);
    });

    it('answers an Idempotency-Key replay of a finished report with its 303 at once when asked to wait', async () => {
      const json = { start_date: '2042-03-02', end_date: '2042-03-03' };
      const headers = { 'idempotency-key': `prefer-${shop.id}`, prefer: 'wait=20' };
      const first = await post(test, shop, json, headers);
      await expectCompleted(first);

      const replay = await post(test, shop, json, headers);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.headers.get('preference-applied')).toBe('wait=20');
      expect(replay.body).toEqual(first.body);
      await expectCompleted(replay);

      // Without Prefer, a replay keeps its 202, which gives the report's current status.
      const plain = await post(test, shop, json, { 'idempotency-key': headers['idempotency-key'] });
      expect(plain.status).toBe(202);
      expect(plain.body).toMatchObject({ id: first.body.id, status: 'COMPLETED' });
      expect(plain.headers.get('preference-applied')).toBeNull();
    });
  });
});
