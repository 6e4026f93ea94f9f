import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse, OpenAPIObject } from '@nestjs/swagger';
import type { ResponseObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { ApiError, CommonErrorCode } from './api-error';
import { malformedPath, refusal, toApiError } from './error.filter';
import { malformedJson } from './validation';

export class ErrorDetailDto {
  @ApiProperty({ example: 'end_date' }) field: string;
  @ApiProperty({ example: 'must be after start_date' }) message: string;
}

export class ErrorBodyDto {
  @ApiProperty({ example: 'VALIDATION_FAILED', description: 'UPPER_SNAKE_CASE, unique per cause' })
  error_code: string;
  @ApiProperty({ example: 'end_date must be after start_date' }) error_message: string;
  @ApiPropertyOptional({ type: [ErrorDetailDto], description: 'Only for validation errors' })
  details?: ErrorDetailDto[];
}

const RETRY_AFTER = {
  'Retry-After': {
    description: 'Whole seconds to wait before retrying',
    schema: { type: 'integer', minimum: 1 },
  },
};

type Headers = Record<string, { description: string; schema: object }>;

/** An error answer in the contract's format, with the errors it can carry as its examples. */
function errorResponse(errors: ApiError[], headers?: Headers) {
  return {
    description: errors.map((error) => error.code).join(', '),
    headers,
    content: {
      'application/json': {
        schema: { $ref: '#/components/schemas/ErrorBodyDto' },
        examples: Object.fromEntries(errors.map((error) => [error.code, { value: error.body }])),
      },
    },
  };
}

export function ApiErrorResponse(status: number, errors: ApiError[], headers?: Headers) {
  return ApiResponse({ status, ...errorResponse(errors, headers) });
}

export const UNEXPECTED_ERROR = new ApiError(
  500,
  CommonErrorCode.UnexpectedError,
  'An unexpected error occurred (error id 3f1c…)',
);

/** The errors every authenticated route can answer. */
export function ApiCommonErrors() {
  return applyDecorators(
    ApiErrorResponse(401, [ApiError.unauthorized()]),
    ApiErrorResponse(429, [ApiError.rateLimited(600, 12)], RETRY_AFTER),
    ApiErrorResponse(500, [UNEXPECTED_ERROR]),
    ApiErrorResponse(
      503,
      [ApiError.unavailable('The service is temporarily unavailable')],
      RETRY_AFTER,
    ),
  );
}

export { RETRY_AFTER };

/** The answers Node and Fastify give before any route code runs, and on which routes. */
function frameworkErrors(path: string, method: string): ApiError[] {
  const withId = path.includes('{');
  // Fastify reads a body on every method but GET: a DELETE with one is parsed as a POST's is.
  const withBody = method !== 'get';
  const status = (code: number) => toApiError({ statusCode: code });
  return [
    refusal('HPE_INVALID_METHOD'),
    refusal('ERR_HTTP_REQUEST_TIMEOUT'),
    refusal('HPE_HEADER_OVERFLOW'),
    ...(withId ? [malformedPath(), status(414)] : []),
    ...(withBody ? [malformedJson(), status(413), status(415)] : []),
  ];
}

/**
 * Adds to every route of the document what Node and Fastify may answer on it, beside the route's
 * own answers (a route's example of a code is kept): not HTTP (400), not received within
 * HTTP_REQUEST_TIMEOUT_MS (408), headers too large (431); on a route with a path parameter, one
 * malformed (400) or too long (414); on a POST or DELETE, a body that is not JSON (400), too large
 * (413) or of another type (415).
 */
export function documentFrameworkErrors(document: OpenAPIObject): void {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of ['get', 'post', 'delete'] as const) {
      const operation = item[method];
      if (!operation) continue;
      for (const error of frameworkErrors(path, method)) {
        const answer = (operation.responses[error.status] ??= errorResponse([])) as ResponseObject;
        const examples = answer.content!['application/json'].examples!;
        if (examples[error.code]) continue;
        examples[error.code] = { value: error.body };
        answer.description = Object.keys(examples).join(', ');
      }
    }
  }
}
