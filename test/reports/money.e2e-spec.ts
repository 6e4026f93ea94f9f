import {
  call,
  downloadReport,
  newClient,
  order,
  pdfText,
  startApp,
  TestApp,
} from '../support/harness';

describe("Money in each currency's own minor units: validated, stored, answered and printed", () => {
  let test: TestApp;
  let shop: { id: string; api_key: string };

  beforeAll(async () => {
    test = await startApp();
    shop = await newClient(test, 'Currencies');
  });
  afterAll(() => test.close());

  const create = (number: string, currency: string, unit_price: string, quantity = 2) =>
    call(test, 'POST', '/v1/orders', {
      key: shop.api_key,
      json: order(number, '2049-03-10T12:00:00Z', {
        currency,
        items: [{ sku: 'SKU-1', name: 'Thing', quantity, unit_price }],
      }),
    });

  it('answers yen without decimals, euros with two and dinars with three, exactly as stored', async () => {
    const cases: Array<[string, string, string, number, string]> = [
      ['YEN-1', 'JPY', '1250', 2, '2500'],
      ['EURO-1', 'EUR', '12.5', 2, '25.00'],
      ['DINAR-1', 'KWD', '1.125', 3, '3.375'],
    ];
    for (const [number, currency, price, quantity, total] of cases) {
      const created = await create(number, currency, price, quantity);
      expect(created.status).toBe(201);
      expect(created.body.total).toBe(total);
      const read = await call(test, 'GET', `/v1/orders/${created.body.id}`, { key: shop.api_key });
      expect(read.body.total).toBe(total);
    }
    const [{ stored }] = await test.dataSource.query(
      `SELECT total::text AS stored FROM orders WHERE client_id = $1 AND number = 'DINAR-1'`,
      [shop.id],
    );
    expect(stored).toBe('3.3750');
  });

  it('refuses a price with more decimals than its currency has, naming it', async () => {
    for (const [currency, price, message] of [
      ['JPY', '12.50', 'must have no decimals in JPY'],
      ['EUR', '1.125', 'must have at most 2 decimals in EUR'],
      ['KWD', '1.1255', 'must have at most 3 decimals in KWD'],
    ]) {
      const refused = await create(`BAD-${currency}`, currency, price);
      expect(refused.status).toBe(400);
      expect(refused.body.error_code).toBe('VALIDATION_FAILED');
      expect(refused.body.details).toEqual([{ field: 'items.0.unit_price', message }]);
    }
  });

  it('prints every amount and every total with its currency’s digits', async () => {
    await create('YEN-2', 'JPY', '300', 1);
    const { pdf } = await downloadReport(test, shop.api_key, {
      start_date: '2049-03-10',
      end_date: '2049-03-11',
    });
    const text = (await pdfText(pdf.bytes)).replace(/\s+/g, ' ');
    expect(text).toContain('2,500 JPY');
    expect(text).toContain('300 JPY');
    expect(text).toContain('2,800 JPY'); // the yen total: 2,500 + 300
    expect(text).toContain('25.00 EUR');
    expect(text).toContain('3.375 KWD');
    expect(text).not.toMatch(/2,500\.00 JPY|3\.38 KWD/);
  });
});
