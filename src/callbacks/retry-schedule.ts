/** When to try a callback again: the configured schedule, jittered, never sooner than the client asked. */

/** ±10 %, so that callbacks failed together by one outage do not all come back at the same instant. */
export const JITTER_RATIO = 0.1;

/** A client may ask us to wait, but not to hold an event for longer than a day. */
const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/**
 * Delay before attempt `attempt + 1` after `attempt` failed attempts (1-based), or undefined when no attempts
 * remain: n delays allow n + 1 attempts in all.
 */
export function retryDelayMs(
  attempt: number,
  delaysMs: number[],
  retryAfterSeconds?: number,
  random: () => number = Math.random,
): number | undefined {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  }
  if (attempt > delaysMs.length) return undefined;
  const factor = 1 - JITTER_RATIO + 2 * JITTER_RATIO * random();
  const jittered = Math.max(0, Math.round(delaysMs[attempt - 1] * factor));
  if (retryAfterSeconds === undefined || !Number.isFinite(retryAfterSeconds)) return jittered;
  // Retry-After only ever lengthens the wait: a client cannot make us retry faster than the schedule.
  return Math.max(jittered, Math.min(Math.round(retryAfterSeconds * 1000), MAX_RETRY_AFTER_MS));
}

/**
 * How long an attempt counted as sending may go without its result before it is taken for
 * interrupted: longer than the POST can last (CALLBACK_TIMEOUT_MS bounds it all, answer included),
 * with room to record it.
 */
export function sendLeaseMs(timeoutMs: number): number {
  return timeoutMs + 15_000;
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
// RFC 9110 §5.6.7: IMF-fixdate, plus the obsolete RFC 850 and asctime forms recipients must accept.
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^${LONG_DAY}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`);

/**
 * `Retry-After` (RFC 9110 §10.2.3) in seconds, >= 0: delta-seconds or an HTTP-date; undefined for anything
 * else. The date forms are matched before Date.parse, which otherwise accepts text like "foo 2020".
 */
export function parseRetryAfter(
  header: string | undefined,
  now: Date = new Date(),
): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  let at: number;
  if (IMF_FIXDATE.test(value) || RFC850_DATE.test(value)) at = Date.parse(value);
  else if (ASCTIME_DATE.test(value))
    at = Date.parse(`${value} GMT`); // asctime has no zone; HTTP means UTC
  else return undefined;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}
