import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidationOptions, registerDecorator } from 'class-validator';
import { ApiError, ErrorDetail } from './api-error';
import { canonicalTimeZone } from './period';

/** Flattens class-validator's tree into `details[]`: `items.0.quantity`, one entry per broken rule. */
export function validationDetails(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      message: message.startsWith(`${error.property} `)
        ? message.slice(error.property.length + 1)
        : message,
    }));
    return own.concat(validationDetails(error.children ?? [], field));
  });
}

/** A body that does not parse as JSON. */
export const malformedJson = () => ApiError.invalidField('body', 'is not valid JSON');

/** Unknown fields are refused, types are never coerced silently, every error is in the contract's shape. */
export const validationPipe = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  transform: true,
  validationError: { target: false, value: false },
  exceptionFactory: (errors) => ApiError.validation(validationDetails(errors)),
});

const CONTROL_CHARACTERS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/; // eslint-disable-line no-control-regex

/** Refuses NUL and other control characters (tab and newlines are allowed). */
export function NoControlCharacters(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'noControlCharacters',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must not contain control characters', ...options },
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || !CONTROL_CHARACTERS.test(value),
      },
    });
}

/** A calendar day `YYYY-MM-DD` that exists (`2021-02-30` does not; Postgres has no year 0). */
export function isCalendarDay(value: unknown): value is string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || value < '0001')
    return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

export function IsCalendarDay(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isCalendarDay',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must be a calendar date YYYY-MM-DD', ...options },
      validator: { validate: (value: unknown) => isCalendarDay(value) },
    });
}

/** An IANA time zone name such as Europe/Paris (period.ts: canonicalTimeZone). */
export function IsTimeZone(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isTimeZone',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: '$property must be an IANA time zone such as Europe/Paris', ...options },
      validator: { validate: (value: unknown) => canonicalTimeZone(value) !== undefined },
    });
}

/** An instant with an explicit offset: `2021-10-03T14:12:00Z` or `2021-10-03T16:12:00+02:00`. */
const INSTANT =
  /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** The instants Postgres and every API answer can hold: years 1 to 9999, in UTC. */
const FIRST_INSTANT = Date.parse('0001-01-01T00:00:00Z');
const LAST_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * An instant with an offset, on a real calendar day, between years 1 and 9999 in UTC: checking its
 * local day alone let `0001-01-01T00:00:00+14:00` (year 0 in UTC) through, which then broke every
 * cursor of the client's order list.
 */
export function isInstant(value: unknown): value is string {
  const match = typeof value === 'string' ? INSTANT.exec(value) : null;
  if (match === null || !isCalendarDay(match[1])) return false;
  const at = Date.parse(value as string);
  return at >= FIRST_INSTANT && at <= LAST_INSTANT;
}

export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isInstant',
      target: target.constructor,
      propertyName: propertyName as string,
      options: {
        message:
          '$property must be an ISO 8601 date-time with an offset, like 2021-10-03T14:12:00Z, ' +
          'between years 1 and 9999 in UTC',
        ...options,
      },
      validator: { validate: (value: unknown) => isInstant(value) },
    });
}

/** The first string in a parsed JSON document that is not well-formed UTF-16 (a lone surrogate). */
export function illFormedString(value: unknown): boolean {
  if (typeof value === 'string') return !value.isWellFormed();
  if (Array.isArray(value)) return value.some(illFormedString);
  if (value && typeof value === 'object') {
    return Object.entries(value).some(
      ([key, item]) => !key.isWellFormed() || illFormedString(item),
    );
  }
  return false;
}
