/** How the report writes text, days and times: pure functions, no I/O. */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes text for HTML content and attribute values. C0 control characters (NUL included) and DEL
 * are dropped: they have no glyph, and NUL is replaced by U+FFFD by the HTML parser anyway. Tab, LF
 * and CR are kept; HTML collapses them to spaces. Lone surrogates, which cannot cross the DevTools
 * protocol as UTF-8, become U+FFFD.
 */
export function escapeHtml(value: string): string {
  // Most values hold none of these: one test instead of three replacements.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (!/[&<>"'\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uD800-\uDFFF]/.test(value)) return value;
  return (
    value
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '')
      .replace(/[&<>"']/g, (char) => HTML_ESCAPES[char])
  );
}

/**
 * A name (escaped HTML) isolated in <bdi>, so that a right-to-left one keeps its direction, and
 * marked with its language when known: Chromium then takes the CJK forms of that language.
 */
export function bdi(html: string, language?: string): string {
  return language ? `<bdi lang="${language}">${html}</bdi>` : `<bdi>${html}</bdi>`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

function parseDay(day: string): Date {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) throw new Error(`Invalid date "${day}", expected YYYY-MM-DD`);
  return new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
}

/** "1 Oct 2021": a day name nobody misreads (no 10/01 vs 01/10 ambiguity). */
function humanDay(date: Date): string {
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
}

/**
 * "1 Oct 2021 – 31 Oct 2021 (Europe/Paris)" for [2021-10-01, 2021-11-01): the end date is
 * exclusive, the days are the zone's.
 */
export function formatPeriod(startDate: string, endDate: string, timeZone = 'UTC'): string {
  const start = parseDay(startDate);
  const lastDay = new Date(parseDay(endDate).getTime() - 86_400_000);
  if (lastDay.getTime() <= start.getTime()) return `${humanDay(start)} (${timeZone})`;
  return `${humanDay(start)} – ${humanDay(lastDay)} (${timeZone})`;
}

/**
 * A function writing instants as `YYYY-MM-DD HH:mm` in `timeZone` (an IANA name), through the
 * offsets the ICU data of Node knows, daylight saving included. Throws on an unknown zone.
 */
export function minuteFormatter(timeZone = 'UTC'): (date: Date) => string {
  if (timeZone === 'UTC') {
    // The common case without Intl: a report of 100,000 orders formats 100,000 times.
    return (date) =>
      `${String(date.getUTCFullYear()).padStart(4, '0')}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
      `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}`;
  }
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  return (date) => {
    const part: Record<string, string> = {};
    for (const { type, value } of format.formatToParts(date)) part[type] = value;
    return `${part.year.padStart(4, '0')}-${part.month}-${part.day} ${part.hour}:${part.minute}`;
  };
}
