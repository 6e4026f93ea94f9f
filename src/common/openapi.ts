import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';

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

/** An error answer in the contract's format, with an example per error code it can carry. */
export function ApiErrorResponse(
  status: number,
  codes: Record<string, string>,
  headers?: Record<string, { description: string; schema: object }>,
) {
  const examples = Object.fromEntries(
    Object.entries(codes).map(([code, message]) => [
      code,
      {
        value:
          code === 'VALIDATION_FAILED'
            ? {
                error_code: code,
                error_message: message,
                details: [{ field: 'end_date', message: 'must be after start_date' }],
              }
            : { error_code: code, error_message: message },
      },
    ]),
  );
  return ApiResponse({
    status,
    description: Object.keys(codes).join(', '),
    headers,
    content: {
      'application/json': { schema: { $ref: '#/components/schemas/ErrorBodyDto' }, examples },
    },
  });
}

/** The errors every authenticated route can answer. */
export function ApiCommonErrors() {
  return applyDecorators(
    ApiErrorResponse(401, {
      UNAUTHORIZED: 'A valid API key is required (Authorization: Bearer <api_key>)',
    }),
    ApiErrorResponse(
      429,
      { RATE_LIMITED: 'Rate limit of 600 requests per minute exceeded; retry after 12 s' },
      RETRY_AFTER,
    ),
    ApiErrorResponse(500, { UNEXPECTED_ERROR: 'An unexpected error occurred (error id 3f1c…)' }),
    ApiErrorResponse(
      503,
      { SERVICE_UNAVAILABLE: 'The service is temporarily unavailable' },
      RETRY_AFTER,
    ),
  );
}

export { RETRY_AFTER };
