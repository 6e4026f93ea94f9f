import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/error-codes';
import { Answer, call, startApp, TestApp } from '../support/harness';

/** The linter's configuration: its recommended rules, and why one of them is off. */
const REDOCLY_CONFIG = join(__dirname, '..', '..', 'redocly.yaml');

/** The codes of the README's table of error codes, in its order. */
function readmeErrorCodes(): string[] {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const section = readme.split('### Error codes')[1].split('\n#')[0];
  return [...section.matchAll(/^\| `([A-Z_]+)`/gm)].map((match) => match[1]);
}

describe('Swagger UI, the OpenAPI document and /health', () => {
  let test: TestApp;

  beforeAll(async () => {
    test = await startApp();
  });
  afterAll(() => test.close());

  it('serves Swagger UI at /docs', async () => {
    const answer = await call(test, 'GET', '/docs');
    expect(answer.status).toBe(200);
    expect(answer.bytes.toString()).toContain('swagger-ui');
  });

  it('documents every route with its status codes, headers, error body and the bearer scheme', async () => {
    const { body: doc } = await call(test, 'GET', '/docs-json');
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.ErrorBodyDto.required).toEqual(['error_code', 'error_message']);
    const common = ['401', '429', '500', '503'];
    // What Node and Fastify answer before any route code runs: on every route, a request that is
    // not valid HTTP (400), not received in time (408) or with headers too large (431); on a route
    // with a path parameter, one malformed (400) or too long (414); on a POST or DELETE, a body
    // too large (413) or not JSON (415).
    const any = ['400', '408', '431'];
    const id = ['414'];
    const body = ['413', '415'];
    const expected: Record<string, Record<string, string[]>> = {
      '/v1/orders/reports': {
        post: ['200', '202', '303', '404', '422', ...common, ...any, ...body],
        get: ['200', ...common, ...any],
      },
      '/v1/orders/reports/status/{id}': { get: ['200', '303', '404', ...common, ...any, ...id] },
      '/v1/orders/reports/{id}': {
        get: ['200', '304', '307', '404', '410', ...common, ...any, ...id],
        delete: ['204', '404', ...common, ...any, ...id, ...body],
      },
      '/v1/orders/reports/{id}/callbacks': { get: ['200', '404', ...common, ...any, ...id] },
      '/v1/orders/reports/{id}/callbacks/redeliver': {
        post: ['202', '404', ...common, ...any, ...id, ...body],
      },
      '/v1/orders': {
        post: ['201', '409', ...common, ...any, ...body],
        get: ['200', ...common, ...any],
      },
      '/v1/orders/{id}': { get: ['200', '404', ...common, ...any, ...id] },
      '/v1/webhook-secret/rotate': { post: ['200', ...common, ...any, ...body] },
      '/v1/webhook-signing-keys': { get: ['200', ...common, ...any] },
      '/v1/webhook-signing-keys/rotate': { post: ['200', ...common, ...any, ...body] },
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const [method, codes] of Object.entries(methods)) {
        const operation = doc.paths[path]?.[method];
        expect(operation).toBeDefined();
        expect(Object.keys(operation.responses).sort()).toEqual(codes.sort());
        expect(operation.security).toEqual([{ bearer: [] }]);
        const examples = (status: string) =>
          Object.keys(operation.responses[status].content['application/json'].examples);
        expect(examples('400')).toContain('BAD_REQUEST');
        expect(examples('408')).toEqual(['REQUEST_TIMEOUT']);
        if (method !== 'get') {
          expect(examples('413')).toEqual(['PAYLOAD_TOO_LARGE']);
          expect(examples('415')).toEqual(['UNSUPPORTED_MEDIA_TYPE']);
        }
      }
    }
    // A route's own 400s are kept beside the framework's.
    expect(
      Object.keys(
        doc.paths['/v1/orders/reports'].post.responses['400'].content['application/json'].examples,
      ),
    ).toEqual(
      expect.arrayContaining(['VALIDATION_FAILED', 'CALLBACK_URL_NOT_ALLOWED', 'BAD_REQUEST']),
    );
    const accepted = doc.paths['/v1/orders/reports'].post.responses['202'];
    expect(Object.keys(accepted.headers)).toEqual(
      expect.arrayContaining(['Location', 'Retry-After']),
    );
    // Prefer: wait on the POST: the status route's answers, said to be honoured.
    const create = doc.paths['/v1/orders/reports'].post;
    expect(
      create.parameters.find((parameter: { name: string }) => parameter.name === 'Prefer'),
    ).toMatchObject({ in: 'header', required: false });
    expect(accepted.headers['Preference-Applied']).toBeDefined();
    expect(create.responses['303'].headers.Location).toBeDefined();
    expect(create.responses['303'].headers['Preference-Applied']).toBeDefined();
    expect(create.responses['303'].content['application/json'].schema.example.status).toBe(
      'COMPLETED',
    );
    expect(Object.keys(create.responses['200'].content['application/json'].examples)).toEqual([
      'FAILED',
      'EXPIRED',
    ]);
    expect(
      doc.paths['/v1/orders/reports/status/{id}'].get.responses['303'].headers.Location,
    ).toBeDefined();
    const status = doc.paths['/v1/orders/reports/status/{id}'].get.responses;
    expect(status['429'].headers['Retry-After']).toBeDefined();
    expect(status['503'].headers['Retry-After']).toBeDefined();
    expect(status['303'].headers['Preference-Applied']).toBeDefined();
    expect(doc.paths['/v1/orders/reports/{id}'].get.responses['404'].headers.Link).toBeDefined();
    // A PDF a client can verify: its digest on the PDF route, its figures in the 303 and the callback.
    expect(
      doc.paths['/v1/orders/reports/{id}'].get.responses['200'].headers['Repr-Digest'],
    ).toEqual({
      description: expect.stringContaining('RFC 9530'),
      schema: expect.objectContaining({ type: 'string' }),
    });
    const pdfSchema = {
      type: 'object',
      required: ['bytes', 'pages', 'sha256'],
      properties: {
        bytes: expect.objectContaining({ type: 'integer' }),
        pages: expect.objectContaining({ type: 'integer', nullable: true }),
        sha256: expect.objectContaining({ type: 'string', pattern: '^[0-9a-f]{64}$' }),
      },
    };
    const seeOther = status['303'].content['application/json'].schema;
    expect(seeOther.properties.pdf).toMatchObject(pdfSchema);
    expect(Object.keys(seeOther.example.pdf)).toEqual(['bytes', 'pages', 'sha256']);
    const callback =
      doc.paths['/v1/orders/reports'].post.callbacks.reportFinished['{$request.body#/callback_url}']
        .post.requestBody.content['application/json'];
    expect(callback.schema.properties.pdf).toMatchObject(pdfSchema);
    expect(Object.keys(callback.examples.COMPLETED.value)).toEqual([
      'id',
      'status',
      'pdf',
      'links',
    ]);
    // The signing keys' list: its fields, and an example of the whpk_ form.
    for (const operation of [
      doc.paths['/v1/webhook-signing-keys'].get,
      doc.paths['/v1/webhook-signing-keys/rotate'].post,
    ]) {
      const schema = operation.responses['200'].content['application/json'].schema;
      expect(schema.properties.data.items.required).toEqual([
        'id',
        'public_key',
        'since',
        'expires_at',
      ]);
      expect(schema.example.data[0].public_key).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    }
    const limit = doc.paths['/v1/orders/reports'].get.parameters.find(
      (parameter: { name: string }) => parameter.name === 'limit',
    );
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 });
  });

  it('documents /health and /metrics as public, with their real answers, and says where and under which licence the API is served', async () => {
    const { body: doc } = await call(test, 'GET', '/docs-json');
    const health = doc.paths['/health'].get;
    const metrics = doc.paths['/metrics'].get;
    for (const operation of [health, metrics]) expect(operation.security).toEqual([]);
    expect(Object.keys(health.responses).sort()).toEqual([
      '200',
      '400',
      '408',
      '431',
      '500',
      '503',
    ]);
    expect(Object.keys(metrics.responses).sort()).toEqual(['200', '400', '408', '431', '500']);
    // The 503 is the error format with Retry-After, as the route answers it.
    const down = health.responses['503'];
    expect(down.headers['Retry-After']).toBeDefined();
    expect(down.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ErrorBodyDto',
    });
    expect(Object.keys(down.content['application/json'].examples)).toEqual(['SERVICE_UNAVAILABLE']);
    expect(
      Object.keys(health.responses['200'].content['application/json'].schema.example.info),
    ).toEqual(['postgres', 'redis', 'chromium']);
    expect(doc.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    expect(doc.info.license).toEqual({ name: 'MIT', url: 'https://opensource.org/licenses/MIT' });
  });

  it("passes Redocly's recommended rules with no error and no warning", async () => {
    const answer = await call(test, 'GET', '/docs-json');
    const file = join(mkdtempSync(join(tmpdir(), 'openapi-')), 'openapi.json');
    writeFileSync(file, answer.bytes);
    const lint = spawnSync(
      process.execPath,
      [
        require.resolve('@redocly/cli/bin/cli.js'),
        'lint',
        file,
        '--format=json',
        `--config=${REDOCLY_CONFIG}`,
      ],
      { encoding: 'utf8' },
    );
    const report = JSON.parse(lint.stdout) as {
      totals: { errors: number; warnings: number };
      problems: {
        severity: string;
        ruleId: string;
        message: string;
        location: { pointer: string }[];
      }[];
    };
    expect(
      report.problems.map(
        (problem) =>
          `${problem.severity} ${problem.ruleId} ${problem.location[0]?.pointer}: ${problem.message}`,
      ),
    ).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect(lint.status).toBe(0);
  });

  it("lists every error code the service answers with in the README's table, each once", () => {
    const listed = readmeErrorCodes();
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('reports Postgres, Redis and Chromium up on /health', async () => {
    const answer = await call(test, 'GET', '/health');
    expect(answer.status).toBe(200);
    expect(answer.body.info).toEqual({
      postgres: { status: 'up' },
      redis: { status: 'up' },
      chromium: { status: 'up' },
    });
  });

  it('answers /health from the last check within a second exactly as the route does', async () => {
    // The first after a second is checked by the route; the next ones get its answer again.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const checked = await call(test, 'GET', '/health');
    const again = await call(test, 'GET', '/health');
    const headers = (answer: Answer) => {
      const kept: Array<[string, string]> = [];
      answer.headers.forEach((value, name) => {
        if (!['date', 'x-request-id', 'keep-alive', 'connection'].includes(name)) {
          kept.push([name, value]);
        }
      });
      return kept.sort();
    };
    expect(again.status).toBe(checked.status);
    expect(again.body).toEqual(checked.body);
    expect(headers(again)).toEqual(headers(checked));
    expect(again.headers.get('cache-control')).toBe('no-cache, no-store, must-revalidate');
  });
});
