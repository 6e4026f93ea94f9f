import { maxLength } from 'class-validator';
import fc from 'fast-check';
import { CUSTOMER_NAME_MAX_LENGTH } from '../../src/orders/order-limits';
import { Answer, call, newClient, order, startApp, TestApp } from '../support/harness';

/**
 * Property-based tests against the real app: whatever a client sends, the answer is never a 5xx and every
 * 4xx is in the contract's error format; every valid order is stored with its exact decimal total.
 */

const RUNS = 200;
const STATUSES = ['PENDING', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELED', 'REFUNDED'];
const REPORT_STATUSES = ['PENDING', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'EXPIRED'];
const UPPER_SNAKE_CASE = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;
/** Each currency's decimals (ISO 4217 exponent), written out here rather than asked of the service. */
const DIGITS: Record<string, number> = { EUR: 2, USD: 2, GBP: 2, JPY: 0, KWD: 3 };
/** The largest total an order may have, in minor units: 16 digits before the point. */
const maxTotalMinor = (currency: string) => 10n ** BigInt(16 + DIGITS[currency]) - 1n;

// ---------------------------------------------------------------------------------------------------
// Checks

function describeAnswer(answer: Answer): string {
  return `${answer.status} ${answer.bytes.toString('utf8').slice(0, 500)}`;
}

/** The answer is not a 5xx, not a rate limit (the test would be misconfigured), and any 4xx is in shape. */
function expectContractAnswer(answer: Answer): void {
  if (answer.status >= 500) throw new Error(`server error: ${describeAnswer(answer)}`);
  if (answer.status === 429) throw new Error(`rate limited: the test is misconfigured`);
  if (answer.status < 400) return;
  const body = answer.body as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new Error(`4xx without a JSON object body: ${describeAnswer(answer)}`);
  }
  const problems: string[] = [];
  if (typeof body.error_code !== 'string' || !UPPER_SNAKE_CASE.test(body.error_code)) {
    problems.push('error_code is not an UPPER_SNAKE_CASE string');
  }
  if (typeof body.error_message !== 'string' || body.error_message === '') {
    problems.push('error_message is not a non-empty string');
  }
  const validation = body.error_code === 'VALIDATION_FAILED';
  const allowed = validation
    ? ['details', 'error_code', 'error_message']
    : ['error_code', 'error_message'];
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) problems.push(`unexpected key ${key}`);
  }
  if (validation) {
    const details = body.details;
    if (!Array.isArray(details) || details.length === 0) {
      problems.push('VALIDATION_FAILED without details[]');
    } else {
      for (const detail of details as unknown[]) {
        const d = detail as Record<string, unknown>;
        if (
          !d ||
          typeof d !== 'object' ||
          Object.keys(d).sort().join() !== 'field,message' ||
          typeof d.field !== 'string' ||
          typeof d.message !== 'string'
        ) {
          problems.push(`detail not {field, message} strings: ${JSON.stringify(detail)}`);
        }
      }
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `error body breaks the contract (${problems.join('; ')}): ${describeAnswer(answer)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Generators

/** Counterexamples hold 10,000-character strings: fast-check prints them shortened. */
function shortly<T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<{ value: T }> {
  return arbitrary.map((value) => ({
    value,
    [fc.toStringMethod]: () => {
      const text = fc.stringify(value);
      return text.length <= 400
        ? text
        : `${text.slice(0, 250)} …(${text.length} characters)… ${text.slice(-100)}`;
    },
  }));
}

/** Lone surrogates are valid in a JS string (and in JSON text) but in no UTF-8 text. */
const surrogateUnit = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff');

const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc.string({ unit: fc.oneof(surrogateUnit, fc.string({ unit: 'grapheme', maxLength: 1 })) }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    'ORD\u0000-1',
    'مرحبا بالعالم',
    'שלום עולם',
    '\u202Eevil\u202C',
    '\u200F\u200E',
    '👩‍👩‍👧‍👦🇫🇷🏳️‍🌈',
    '<script>alert(1)</script>',
    '</td></tr><img src=x onerror=alert(1)>',
    "1' OR 1=1 --",
    '${jndi:ldap://x}',
    'x'.repeat(10000),
    'x'.repeat(10001),
    '💩'.repeat(10000),
    '2021-02-30',
    '2021-02-29',
    '0000-01-01',
    '9999-12-31',
    '2021-10-01T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '2021-02-30T14:12:00Z',
    '1e309',
    'NaN',
    'Infinity',
    '-0',
    '12.5',
    '12.500',
    '0.00',
    '999999999999.99',
    'EUR',
    'eur',
    'PAID',
    '__proto__',
    'constructor',
    'https://partner.example/cb',
    'http://127.0.0.1/cb',
    'http://[::1]/cb',
    'http://0x7f.1/cb',
    'https://user:secret@example.com/cb',
    'javascript:alert(1)',
    'https://example.com/' + 'a'.repeat(2048),
  ),
);

const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.integer({ min: -1000, max: 1001 }),
  fc.double(), // NaN and ±Infinity serialize as null
  fc.constantFrom(
    0,
    -0,
    -1,
    0.5,
    1.5,
    1e21,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    5e-324,
    1000000,
    1000001,
    20211001,
  ),
);

const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  { weight: 2, arbitrary: nastyNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(nastyString, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(nastyString, nastyString, { maxKeys: 3 }) },
);

const extraKey = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'total',
    'id',
    'toString',
    'hasOwnProperty',
  ),
  fc.string({ maxLength: 10 }),
);

/** Sets an own property, even `__proto__`, so that JSON.stringify writes it as a key. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

type Mutation =
  | { kind: 'replace'; path: string[]; value: unknown }
  | { kind: 'delete'; path: string[] }
  | { kind: 'extra'; at: string[]; key: string; value: unknown };

/** Deep copy of a JSON body with one mutation applied (paths address objects and array indexes). */
function mutate(body: unknown, mutation: Mutation): unknown {
  const copy = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
  const parentPath = mutation.kind === 'extra' ? mutation.at : mutation.path.slice(0, -1);
  let parent: Record<string, unknown> = copy;
  for (const key of parentPath) parent = parent[key] as Record<string, unknown>;
  if (mutation.kind === 'replace')
    setOwn(parent, mutation.path[mutation.path.length - 1], mutation.value);
  else if (mutation.kind === 'delete') delete parent[mutation.path[mutation.path.length - 1]];
  else setOwn(parent, mutation.key, mutation.value);
  return copy;
}

const ORDER_FIELDS = [
  ['number'],
  ['placed_at'],
  ['status'],
  ['currency'],
  ['customer'],
  ['customer', 'name'],
  ['customer', 'email'],
  ['items'],
  ['items', '0'],
  ['items', '0', 'sku'],
  ['items', '0', 'name'],
  ['items', '0', 'quantity'],
  ['items', '0', 'unit_price'],
];
const ORDER_OBJECTS = [[], ['customer'], ['items', '0']];
const REPORT_FIELDS = [['start_date'], ['end_date'], ['callback_url']];

function mutations(fields: string[][], objects: string[][]): fc.Arbitrary<Mutation[]> {
  const one: fc.Arbitrary<Mutation> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('replace' as const),
        path: fc.constantFrom(...fields),
        value: nastyValue,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('delete' as const),
        path: fc.constantFrom(...fields),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('extra' as const),
        at: fc.constantFrom(...objects),
        key: extraKey,
        value: nastyValue,
      }),
    },
  );
  return fc.array(one, { minLength: 1, maxLength: 3 });
}

/** Applies mutations in turn, skipping those whose path no longer exists. */
function applyAll(body: unknown, list: Mutation[]): unknown {
  return list.reduce((current, mutation) => {
    try {
      return mutate(current, mutation);
    } catch {
      return current; // the path was removed or replaced by a scalar by an earlier mutation
    }
  }, body);
}

/** A body that is any JSON value, or a JSON object of mixed-up shape. */
const arbitraryBody: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }),
  fc.dictionary(
    fc.oneof(extraKey, fc.constantFrom('number', 'items', 'start_date', 'end_date', 'customer')),
    nastyValue,
    { maxKeys: 6 },
  ),
);

/** Raw JSON texts with `__proto__` and `constructor.prototype` keys, as an attacker writes them. */
const poisonedJson = fc.constantFrom(
  '{"__proto__":{"isAdmin":true},"start_date":"2021-10-01","end_date":"2021-11-01"}',
  '{"constructor":{"prototype":{"isAdmin":true}},"start_date":"2021-10-01","end_date":"2021-11-01"}',
  '{"start_date":"2021-10-01","end_date":"2021-11-01","__proto__":null}',
  '{"customer":{"__proto__":{"name":"x"}}}',
  '[]',
  'null',
  '0',
  '""',
  '"\\ud800"',
  '{"start_date":"2021-10-01","end_date":"2021-11-01","start_date":"2021-09-01"}',
);

/** Percent-encodes any string through UTF-8, lone surrogates included (they become U+FFFD). */
function encode(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => '%' + byte.toString(16).toUpperCase().padStart(2, '0'))
    .join('');
}

/** A cursor as this API encodes them, but with arbitrary contents: forged, not just garbage. */
const forgedCursor = fc
  .tuple(
    fc.oneof(
      nastyString,
      fc.constantFrom(
        '1',
        '2021',
        '2021-02-30',
        '0000-01-01',
        '+275760-09-13T00:00:00Z',
        'Tue, 1 Jan 2021',
        '2021-10-03T14:12:00Z',
      ),
      fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString())),
    ),
    fc.oneof(fc.uuid(), nastyString),
  )
  .map((tuple) => Buffer.from(JSON.stringify(tuple)).toString('base64url'));

/** A query value: raw text, percent-encoded text, invalid escapes, or a plausible value. */
function queryValue(plausible: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    plausible,
    nastyString.map(encode),
    fc.string({ maxLength: 20 }).map((s) => s.replace(/[#&]/g, '')),
    fc.constantFrom(
      '',
      '%',
      '%zz',
      '%FF%FE',
      '%00',
      '%C0%AF',
      '%E2%80%AE',
      '+',
      '[]',
      '1e2',
      '0x10',
      '-1',
      '1.5',
      ' 5',
    ),
  );
}

/** Any day of years 0000 to 9999, biased towards the edges of that range. */
const day = fc.oneof(
  fc.date({
    min: new Date('0000-01-01T00:00:00Z'),
    max: new Date('9999-12-31T00:00:00Z'),
    noInvalidDate: true,
  }),
  fc
    .constantFrom('2021-10-01', '0000-01-01', '0000-12-31', '0001-01-01', '9999-12-01')
    .map((d) => new Date(`${d}T00:00:00Z`)),
);
const dayString = fc.oneof(
  day.map((d) => d.toISOString().slice(0, 10)),
  fc.constantFrom('2021-02-30', '2021-02-29', '2020-02-29', '2021-13-01', '2021-1-1'),
);
/** Periods that are mostly close to valid: a day and another a few days to a year or so away. */
const period = fc
  .tuple(day, fc.integer({ min: -3, max: 400 }))
  .map(([start, days]) => ({
    start_date: start.toISOString().slice(0, 10),
    end_date: new Date(start.getTime() + days * 86_400_000).toISOString().slice(0, 10),
  }))
  .filter((p) => /^\d{4}-/.test(p.end_date));
const limitString = fc.oneof(
  fc.integer({ min: -5, max: 200 }).map(String),
  fc.constantFrom('1', '20', '100', '101'),
);

/** `?a=1&a=2` repeats, empty keys, `__proto__` keys: whatever the query parser makes of them. */
function queryString(params: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const names = Object.keys(params);
  const pair = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.constantFrom(...names).chain((name) => params[name].map((v) => `${name}=${v}`)),
    },
    { weight: 1, arbitrary: fc.constantFrom(...names).map((name) => name) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', '', 'limit[]', 'cursor[0]'),
          queryValue(fc.constant('x')),
        )
        .map(([k, v]) => `${k}=${v}`),
    },
  );
  return fc.array(pair, { maxLength: 5 }).map((pairs) => pairs.join('&'));
}

// Valid orders ----------------------------------------------------------------------------------------

const friendlyText = fc
  .oneof(
    fc.constantFrom(
      'Ada Lovelace',
      '<b>Bold</b> & "quoted" \'single\'',
      '<script>alert(1)</script>',
      '👩‍💻 Grace Hopper 🚀',
      'محمد بن موسى الخوارزمي',
      'שלום',
      '\u202Eesrever\u202C',
      'Zoë Ünicode — “quotes”',
      'line\nbreak\ttab',
      '   ',
      '💩'.repeat(CUSTOMER_NAME_MAX_LENGTH),
    ),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 60 }),
  )
  .filter((s) => s.length > 0 && !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(s)) // eslint-disable-line no-control-regex
  // As the DTO counts a name's length (a surrogate pair is one character, a ZWJ sequence several).
  .filter((s) => maxLength(s, CUSTOMER_NAME_MAX_LENGTH));

/**
 * Prices as the contract takes them: no sign, no exponent, below 10^12, with at most `digits`
 * decimals (the currency's).
 */
const price = (digits: number) =>
  fc
    .tuple(
      fc.oneof(fc.bigInt({ min: 0n, max: 999n }), fc.bigInt({ min: 0n, max: 999_999_999_999n })),
      fc.integer({ min: 0, max: digits }),
      fc.bigInt({ min: 0n, max: 10n ** BigInt(digits) - 1n }),
    )
    .map(([whole, shown, fraction]) =>
      shown === 0
        ? `${whole}`
        : `${whole}.${fraction.toString().padStart(digits, '0').slice(0, shown)}`,
    );

function minorUnits(amount: string, currency: string): bigint {
  const digits = DIGITS[currency];
  const [whole, fraction = ''] = amount.split('.');
  return BigInt(whole) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0');
}

/** Minor units with every decimal of the currency: "25.00" EUR, "2500" JPY, "3.375" KWD. */
function formatMinor(minor: bigint, currency: string): string {
  const digits = DIGITS[currency];
  if (digits === 0) return `${minor}`;
  const scale = 10n ** BigInt(digits);
  return `${minor / scale}.${(minor % scale).toString().padStart(digits, '0')}`;
}

/** An instant with an explicit offset, anywhere from year 1 to 9999 (Postgres has no year 0). */
const instant = fc
  .tuple(
    fc.date({
      min: new Date('0001-01-02T00:00:00Z'),
      max: new Date('9999-12-30T00:00:00Z'),
      noInvalidDate: true,
    }),
    fc.constantFrom('Z', '+00:00', '+02:00', '-05:30', '+14:00', '-12:00'),
  )
  .map(([date, offset]) => {
    if (offset === 'Z') return date.toISOString();
    const sign = offset[0] === '+' ? 1 : -1;
    const minutes = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
    const local = new Date(date.getTime() + minutes * 60_000).toISOString().slice(0, 23);
    return `${local}${offset}`;
  });

const item = (digits: number) =>
  fc.record({
    sku: friendlyText.filter((s) => s.length <= 100),
    name: friendlyText,
    quantity: fc.integer({ min: 1, max: 1000 }),
    unit_price: price(digits),
  });

const validOrder = fc.constantFrom(...Object.keys(DIGITS)).chain((currency) =>
  fc.record({
    placed_at: instant,
    status: fc.constantFrom(...STATUSES),
    currency: fc.constant(currency),
    customer: fc.record({
      name: friendlyText,
      email: fc
        .tuple(
          fc.stringMatching(/^[a-z0-9]{1,20}$/),
          fc.constantFrom('example.com', 'example.org', 'shop.co.uk'),
        )
        .map(([local, domain]) => `${local}@${domain}`),
    }),
    items: fc.array(item(DIGITS[currency]), { minLength: 1, maxLength: 20 }),
  }),
);

// ---------------------------------------------------------------------------------------------------

describe('Whatever a client sends, the answer keeps the contract', () => {
  let test: TestApp;
  let key: string;
  let ordersKey: string;
  let reportIds: string[];
  let numbers = 0;

  beforeAll(async () => {
    test = await startApp({
      RATE_LIMIT_PER_MINUTE: '1000000',
      RATE_LIMIT_STATUS_PER_MINUTE: '1000000',
    });
    key = (await newClient(test, 'Fuzzed Shop')).api_key;
    ordersKey = (await newClient(test, 'Valid Orders Shop')).api_key;
    // A few orders and reports of its own, so that listings and status ids have something to find.
    for (const n of [1, 2, 3]) {
      await call(test, 'POST', '/v1/orders', {
        key,
        json: order(`SEED-${n}`, `2021-10-0${n}T10:00:00Z`),
      });
    }
    reportIds = [];
    for (const start of ['2021-10-01', '2021-11-01']) {
      const created = await call(test, 'POST', '/v1/orders/reports', {
        key,
        json: { start_date: start, end_date: '2021-12-01' },
      });
      expect(created.status).toBe(202);
      reportIds.push(created.body.id);
    }
  });
  afterAll(() => test.close());

  /** POSTs a body; a report it creates is deleted at once, so the worker does not render hundreds. */
  async function post(path: string, options: { json?: unknown; body?: string }): Promise<Answer> {
    const answer =
      options.body !== undefined
        ? await call(test, 'POST', path, {
            key,
            body: options.body,
            headers: { 'content-type': 'application/json' },
          })
        : await call(test, 'POST', path, {
            key,
            body: JSON.stringify(options.json) ?? '',
            headers: { 'content-type': 'application/json' },
          });
    if (answer.status === 202 && answer.body?.id) {
      await call(test, 'DELETE', `/v1/orders/reports/${answer.body.id}`, { key });
    }
    return answer;
  }

  it('POST /v1/orders: arbitrary JSON bodies and mutated orders never get a 5xx, and every 4xx is in shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        shortly(
          fc.oneof(
            { weight: 1, arbitrary: arbitraryBody.map((json) => ({ json })) },
            { weight: 1, arbitrary: poisonedJson.map((body) => ({ body })) },
            {
              weight: 4,
              arbitrary: mutations(ORDER_FIELDS, ORDER_OBJECTS).map((list) => ({ list })),
            },
          ),
        ),
        async ({ value: input }) => {
          const options =
            'list' in input
              ? { json: applyAll(order(`FUZZ-${++numbers}`, '2021-10-03T14:12:00Z'), input.list) }
              : input;
          expectContractAnswer(await post('/v1/orders', options));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('POST /v1/orders/reports: arbitrary JSON bodies and mutated requests never get a 5xx, and every 4xx is in shape', async () => {
    const base = { start_date: '2021-10-01', end_date: '2021-11-01' };
    await fc.assert(
      fc.asyncProperty(
        shortly(
          fc.oneof(
            { weight: 1, arbitrary: arbitraryBody.map((json) => ({ json })) },
            { weight: 1, arbitrary: poisonedJson.map((body) => ({ body })) },
            {
              weight: 2,
              arbitrary: fc
                .oneof(period, fc.record({ start_date: dayString, end_date: dayString }))
                .map((json) => ({ json })),
            },
            {
              weight: 4,
              arbitrary: mutations(REPORT_FIELDS, [[]]).map((list) => ({
                json: applyAll(base, list),
              })),
            },
          ),
        ),
        async ({ value: input }) => {
          expectContractAnswer(await post('/v1/orders/reports', input));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('GET /v1/orders with arbitrary limit, cursor, start_date and end_date never gets a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        shortly(
          queryString({
            limit: queryValue(limitString),
            cursor: queryValue(forgedCursor),
            start_date: queryValue(dayString),
            end_date: queryValue(dayString),
          }),
        ),
        async ({ value: query }) => {
          const answer = await call(test, 'GET', `/v1/orders?${query}`, { key });
          expectContractAnswer(answer);
          if (answer.status === 200) expect(Array.isArray(answer.body.data)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('GET /v1/orders/reports with arbitrary status, limit and cursor never gets a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        shortly(
          queryString({
            status: queryValue(fc.constantFrom(...REPORT_STATUSES, 'pending', 'LOST')),
            limit: queryValue(limitString),
            cursor: queryValue(forgedCursor),
          }),
        ),
        async ({ value: query }) => {
          const answer = await call(test, 'GET', `/v1/orders/reports?${query}`, { key });
          expectContractAnswer(answer);
          if (answer.status === 200) expect(Array.isArray(answer.body.data)).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('GET /v1/orders/reports/status/:id with arbitrary ids answers 200, 303 or 404 REPORT_NOT_FOUND', async () => {
    type Id = { path: string; expect: 'own' | 'maybe-own' | 'not-found' };
    const notFound = (path: string): Id => ({ path, expect: 'not-found' });
    await fc.assert(
      fc.asyncProperty(
        shortly(
          fc.oneof(
            // '.' and '..' (even as %2E) are dot segments: the URL would name another route.
            nastyString.filter((s) => !['', '.', '..'].includes(s)).map((s) => notFound(encode(s))),
            fc.uuid().map(notFound),
            fc.constantFrom(0, 1).map((i): Id => ({ path: reportIds[i], expect: 'own' })),
            // UUIDs are case-insensitive (RFC 9562): the own id in upper case may be found or not.
            fc
              .constantFrom(0, 1)
              .map((i): Id => ({ path: reportIds[i].toUpperCase(), expect: 'maybe-own' })),
            fc
              .constantFrom(
                '%',
                '%zz',
                '%FF',
                '%C0%AF',
                '%00',
                'null',
                'undefined',
                '00000000-0000-0000-0000-000000000000',
                'ffffffff-ffff-ffff-ffff-ffffffffffff',
              )
              .map(notFound),
          ),
        ),
        async ({ value: id }) => {
          const answer = await call(test, 'GET', `/v1/orders/reports/status/${id.path}`, { key });
          expectContractAnswer(answer);
          if (id.expect === 'own') expect([200, 303]).toContain(answer.status);
          else if (id.expect === 'maybe-own' && answer.status < 400)
            expect([200, 303]).toContain(answer.status);
          // A URL that is not well-formed (400) or too long (414, 431) may be refused before routing.
          else if (![400, 414, 431].includes(answer.status)) {
            expect(answer.status).toBe(404);
            expect(answer.body.error_code).toBe('REPORT_NOT_FOUND');
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('every valid order is created (201) with the exact decimal total, its text kept as sent', async () => {
    await fc.assert(
      fc.asyncProperty(validOrder, async (fields) => {
        const body = { number: `VALID-${++numbers}`, ...fields };
        const answer = await call(test, 'POST', '/v1/orders', { key: ordersKey, json: body });
        const total = body.items.reduce(
          (sum, item) => sum + BigInt(item.quantity) * minorUnits(item.unit_price, body.currency),
          0n,
        );
        if (total > maxTotalMinor(body.currency)) {
          expect(answer.status).toBe(400);
          expect(answer.body.details).toContainEqual(expect.objectContaining({ field: 'items' }));
          return;
        }
        if (answer.status !== 201) throw new Error(`expected 201: ${describeAnswer(answer)}`);
        expect(answer.body.total).toBe(formatMinor(total, body.currency));
        expect(answer.body.item_count).toBe(
          body.items.reduce((sum, item) => sum + item.quantity, 0),
        );
        expect(answer.body.placed_at).toBe(new Date(body.placed_at).toISOString());
        expect(answer.body.customer).toEqual(body.customer);
        expect(answer.body.items).toEqual(body.items);
        expect(answer.body).toMatchObject({
          number: body.number,
          status: body.status,
          currency: body.currency,
        });
        const stored = await call(test, 'GET', `/v1/orders/${answer.body.id}`, { key: ordersKey });
        expect(stored.body.total).toBe(formatMinor(total, body.currency));
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses a price with more decimals than its currency has, naming the item's price", async () => {
    await fc.assert(
      fc.asyncProperty(
        validOrder,
        fc.nat(),
        fc.integer({ min: 1, max: 2 }),
        async (fields, pick, extra) => {
          const i = pick % fields.items.length;
          const digits = DIGITS[fields.currency] + extra;
          const items = fields.items.map((item, j) =>
            j === i ? { ...item, unit_price: `7.${'5'.repeat(digits)}` } : item,
          );
          const body = { number: `PRECISE-${++numbers}`, ...fields, items };
          const answer = await call(test, 'POST', '/v1/orders', { key: ordersKey, json: body });
          expect(answer.status).toBe(400);
          expect(answer.body.details).toContainEqual(
            expect.objectContaining({ field: `items.${i}.unit_price` }),
          );
        },
      ),
      { numRuns: 50 },
    );
  });
});
