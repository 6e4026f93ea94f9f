import { ErrorDetail } from './api-error';

const DAY_MS = 86_400_000;

/** The half-open UTC interval `[start_date 00:00Z, end_date 00:00Z)` of a report period. */
export function periodBounds(startDate: string, endDate: string): { from: Date; to: Date } {
  return { from: new Date(`${startDate}T00:00:00Z`), to: new Date(`${endDate}T00:00:00Z`) };
}

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
