import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/error-codes';
import { call, startApp, TestApp } from '../support/harness';

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
    const expected: Record<string, Record<string, string[]>> = {
      '/v1/orders/reports': {
        post: ['202', '400', '422', ...common],
        get: ['200', '400', ...common],
      },
      '/v1/orders/reports/status/{id}': { get: ['200', '303', '404', ...common] },
      '/v1/orders/reports/{id}': {
        get: ['200', '304', '404', '410', ...common],
        delete: ['204', '404', ...common],
      },
      '/v1/orders/reports/{id}/callbacks': { get: ['200', '404', ...common] },
      '/v1/orders/reports/{id}/callbacks/redeliver': { post: ['202', '404', ...common] },
      '/v1/orders': { post: ['201', '400', '409', ...common], get: ['200', '400', ...common] },
      '/v1/orders/{id}': { get: ['200', '404', ...common] },
      '/v1/webhook-secret/rotate': { post: ['200', ...common] },
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const [method, codes] of Object.entries(methods)) {
        const operation = doc.paths[path]?.[method];
        expect(operation).toBeDefined();
        expect(Object.keys(operation.responses).sort()).toEqual(codes.sort());
        expect(operation.security).toEqual([{ bearer: [] }]);
      }
    }
    const accepted = doc.paths['/v1/orders/reports'].post.responses['202'];
    expect(Object.keys(accepted.headers)).toEqual(
      expect.arrayContaining(['Location', 'Retry-After']),
    );
    expect(
      doc.paths['/v1/orders/reports/status/{id}'].get.responses['303'].headers.Location,
    ).toBeDefined();
    const status = doc.paths['/v1/orders/reports/status/{id}'].get.responses;
    expect(status['429'].headers['Retry-After']).toBeDefined();
    expect(status['503'].headers['Retry-After']).toBeDefined();
    expect(status['303'].headers['Preference-Applied']).toBeDefined();
    expect(doc.paths['/v1/orders/reports/{id}'].get.responses['404'].headers.Link).toBeDefined();
    const limit = doc.paths['/v1/orders/reports'].get.parameters.find(
      (parameter: { name: string }) => parameter.name === 'limit',
    );
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 });
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
});
