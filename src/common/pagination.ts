import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ApiError } from './api-error';

export class PageQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 20;

  @ApiPropertyOptional({ description: 'The next_cursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/**
 * A keyset position `(at, id)`, opaque to clients. `at` is an ISO 8601 UTC instant with 3 or 6
 * fractional digits: 6 where the column is a Postgres timestamptz that may hold microseconds, because a
 * JS Date would round them off and the keyset would then skip or repeat rows inside one millisecond.
 */
export interface Position {
  at: string;
  id: string;
}

/**
 * SQL for a timestamptz column as a Position's `at`, to the microsecond, whatever the session's
 * TimeZone and DateStyle.
 */
export function cursorInstantSql(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');
}

/** Milliseconds (Date#toISOString), then optionally the microseconds (cursorInstantSql). */
const ISO_INSTANT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})(\d{3})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function decodeCursor(cursor: string): Position {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const millis = typeof at === 'string' ? ISO_INSTANT.exec(at)?.[1] : undefined;
    if (
      typeof at === 'string' &&
      typeof id === 'string' &&
      UUID.test(id) &&
      // Exactly what this API writes, a real instant to the millisecond or microsecond: nothing
      // Postgres refuses (no 30 February, no year 0).
      millis !== undefined &&
      at >= '0001' &&
      new Date(`${millis}Z`).toISOString() === `${millis}Z`
    ) {
      return { at, id };
    }
  } catch {
    // fall through: any undecodable cursor is the same client error
  }
  throw ApiError.validation([{ field: 'cursor', message: 'is not a cursor returned by this API' }]);
}

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
