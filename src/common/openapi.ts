import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { ApiError, CommonErrorCode } from './api-error';

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

/** An error answer in the contract's format, with the errors it can carry as its examples. */
export function ApiErrorResponse(
  status: number,
  errors: ApiError[],
  headers?: Record<string, { description: string; schema: object }>,
) {
  return ApiResponse({
    status,
    description: errors.map((error) => error.code).join(', '),
    headers,
    content: {
      'application/json': {
        schema: { $ref: '#/components/schemas/ErrorBodyDto' },
        examples: Object.fromEntries(errors.map((error) => [error.code, { value: error.body }])),
      },
    },
  });
}

/** The errors every authenticated route can answer. */
export function ApiCommonErrors() {
  return applyDecorators(
    ApiErrorResponse(401, [ApiError.unauthorized()]),
    ApiErrorResponse(429, [ApiError.rateLimited(600, 12)], RETRY_AFTER),
    ApiErrorResponse(500, [
      new ApiError(
        500,
        CommonErrorCode.UnexpectedError,
        'An unexpected error occurred (error id 3f1c…)',
      ),
    ]),
    ApiErrorResponse(
      503,
      [ApiError.unavailable('The service is temporarily unavailable')],
      RETRY_AFTER,
    ),
  );
}

export { RETRY_AFTER };
