import { Answer, call, newClient, startApp, TestApp } from '../support/harness';
import { eventually } from '../support/receiver';
import { TestDnsServer } from './dns-server';

/**
 * The request-time lookup of a callback_url host, against a real DNS server on loopback
 * (CALLBACK_DNS_SERVERS): names under silent.test are never answered, as a zone whose nameserver is
 * down.
 */
describe('callback_url lookups have their own resolver and timeout', () => {
  let dns: TestDnsServer;
  let test: TestApp;
  let periods = 0;

  beforeAll(async () => {
    dns = await new TestDnsServer((name) => {
      if (name.endsWith('.silent.test')) return 'silent';
      if (name === 'partner.test') return ['93.184.215.14'];
      if (name === 'internal.test') return ['10.1.2.3'];
      return 'nxdomain';
    }).start();
    // The API alone: nothing is rendered, so nothing is sent to these made-up hosts.
    test = await startApp({ APP_ROLE: 'api', CALLBACK_DNS_SERVERS: dns.address });
  });
  afterAll(async () => {
    await test.close();
    await dns.stop();
  });

  function ask(key: string, callbackUrl: string): Promise<Answer> {
    periods += 1;
    const start = new Date(Date.UTC(2045, 0, periods)).toISOString().slice(0, 10);
    const end = new Date(Date.UTC(2045, 0, periods + 1)).toISOString().slice(0, 10);
    return call(test, 'POST', '/v1/orders/reports', {
      key,
      json: { start_date: start, end_date: end, callback_url: callbackUrl },
    });
  }

  it("a nameserver that never answers one client's host does not delay another client's lookup", async () => {
    const stalled = await newClient(test, 'Stalled Shop');
    const other = await newClient(test, 'Other Shop');
    const order: string[] = [];
    // More lookups than libuv has threads (4), each of them waiting for a nameserver that never
    // answers; beyond the client's 8 in flight, refused at once without a lookup.
    const waiting = Array.from({ length: 12 }, (_, i) =>
      ask(stalled.api_key, `https://host-${i}.silent.test/cb`).then((answer) => {
        order.push('stalled');
        return answer;
      }),
    );
    const silentAsked = () =>
      new Set(dns.asked.filter((name) => name.endsWith('.silent.test'))).size;
    await eventually(async () => silentAsked() === 8 && order.length === 4);

    const answered = await ask(other.api_key, 'https://partner.test/cb');
    order.push('other');
    expect(answered.status).toBe(202);
    // Answered while the 8 stalled lookups were still waiting for their nameserver.
    expect(order).toEqual(['stalled', 'stalled', 'stalled', 'stalled', 'other']);
    expect(silentAsked()).toBe(8);

    // The stalled ones give up by themselves: the URL may be fine, so 503 with Retry-After.
    for (const answer of await Promise.all(waiting)) {
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual({
        error_code: 'SERVICE_UNAVAILABLE',
        error_message: 'The callback_url host could not be resolved just now; try again later',
      });
      expect(answer.headers.get('retry-after')).toBe('5');
    }
  });

  it('answers a host that does not resolve exactly as one that resolves to a private address', async () => {
    const shop = await newClient(test);
    const missing = await ask(shop.api_key, 'https://missing.test/cb');
    const internal = await ask(shop.api_key, 'https://internal.test/cb');
    expect(missing.status).toBe(400);
    expect(internal.status).toBe(400);
    expect(missing.body).toEqual(internal.body);
    expect(missing.body).toEqual({
      error_code: 'CALLBACK_URL_NOT_ALLOWED',
      error_message:
        'callback_url must not point at a private, loopback, link-local or reserved address',
    });
  });
});
