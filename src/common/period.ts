import { DateTime, IANAZone } from 'luxon';
import { ErrorDetail } from './api-error';

const DAY_MS = 86_400_000;

/**
 * An IANA time zone's canonical name (`europe/paris` → `Europe/Paris`), or undefined when it is no
 * zone (an offset such as `+02:00` is not one: it knows no daylight saving).
 */
export function canonicalTimeZone(name: unknown): string | undefined {
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(name)) return undefined;
  if (!IANAZone.isValidZone(name)) return undefined;
  return new Intl.DateTimeFormat('en', { timeZone: name }).resolvedOptions().timeZone;
}

/**
 * The half-open interval `[start_date, end_date)` of a report period, from local midnight to local
 * midnight in `timeZone`: `2021-10-01`..`2021-11-01` in Europe/Paris is 2021-09-30T22:00Z to
 * 2021-10-31T23:00Z, its last day 25 hours long. A midnight that a daylight saving change skips
 * starts the day at its first instant.
 */
export function periodBounds(
  startDate: string,
  endDate: string,
  timeZone = 'UTC',
): { from: Date; to: Date } {
  const midnight = (day: string) => DateTime.fromISO(day, { zone: timeZone }).startOf('day');
  return { from: midnight(startDate).toJSDate(), to: midnight(endDate).toJSDate() };
}

/** Calendar days from `startDate` to `endDate`, whatever the zone's daylight saving. */
export function periodDays(startDate: string, endDate: string): number {
  const { from, to } = periodBounds(startDate, endDate);
  return Math.round((to.getTime() - from.getTime()) / DAY_MS);
}

/** What is wrong with a period whose days are each valid: order and length. */
export function periodErrors(startDate: string, endDate: string, maxDays: number): ErrorDetail[] {
  const days = periodDays(startDate, endDate);
  if (days <= 0) return [{ field: 'end_date', message: 'must be after start_date' }];
  if (days > maxDays) {
    return [{ field: 'end_date', message: `must be at most ${maxDays} days after start_date` }];
  }
  return [];
}
