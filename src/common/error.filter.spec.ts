import { BadRequestException, HttpException, Logger, NotFoundException } from '@nestjs/common';
import { ApiError } from './api-error';
import { toApiError } from './error.filter';

describe('toApiError', () => {
  beforeAll(() => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  it('keeps an ApiError as it is, with its details and headers', () => {
    const error = new ApiError(429, 'RATE_LIMITED', 'slow down', {
      headers: { 'Retry-After': '7' },
    });
    expect(toApiError(error)).toBe(error);
    expect(error.body).toEqual({ error_code: 'RATE_LIMITED', error_message: 'slow down' });
  });

  it('shows details only for validation errors', () => {
    const error = ApiError.validation([{ field: 'end_date', message: 'must be after start_date' }]);
    expect(error.body).toEqual({
      error_code: 'VALIDATION_FAILED',
      error_message: 'end_date must be after start_date',
      details: [{ field: 'end_date', message: 'must be after start_date' }],
    });
  });

  it("maps the framework's exceptions by status, never echoing their messages", () => {
    const notFound = toApiError(new NotFoundException('Cannot GET /secret/path'));
    expect(notFound.body).toEqual({ error_code: 'NOT_FOUND', error_message: 'No such route' });
    const bad = toApiError(new BadRequestException('Unexpected token } in JSON at position 12'));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).not.toContain('Unexpected token');
    expect(toApiError(new HttpException('x', 418)).body.error_code).toBe('HTTP_418');
  });

  it('hides unexpected errors behind 500 UNEXPECTED_ERROR with an id, and logs them with the request id', () => {
    // A failed query carries its SQL and parameters (a client's data): the log line shows neither.
    const thrown = Object.assign(new Error('relation "orders" does not exist'), {
      query: 'INSERT INTO orders (customer_email) VALUES ($1)',
      parameters: ['jane@example.com'],
    });
    const error = toApiError(thrown, 'req-42');
    expect(error.status).toBe(500);
    expect(error.body.error_code).toBe('UNEXPECTED_ERROR');
    expect(error.body.error_message).toMatch(
      /^An unexpected error occurred \(error id [0-9a-f-]{36}\)$/,
    );
    expect(JSON.stringify(error.body)).not.toMatch(/relation|INSERT|jane/);
    expect(Logger.prototype.error).toHaveBeenCalledWith({
      req: { id: 'req-42' },
      err: { type: 'Error', message: thrown.message, stack: thrown.stack },
      msg: `Unexpected error ${error.body.error_message.slice(-37, -1)}`,
    });
  });

  it('answers 503 SERVICE_UNAVAILABLE with Retry-After when the database is away', () => {
    for (const error of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('terminating connection due to administrator command'), {
        code: '57P01',
      }),
    ]) {
      const answer = toApiError(error);
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual({
        error_code: 'SERVICE_UNAVAILABLE',
        error_message: 'The service is temporarily unavailable',
      });
      expect(answer.headers).toEqual({ 'Retry-After': '5' });
    }
  });

  it('treats anything thrown that is not an Error as unexpected', () => {
    expect(toApiError('a string').status).toBe(500);
    expect(toApiError(undefined).status).toBe(500);
  });
});
