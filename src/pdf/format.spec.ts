import { escapeHtml, formatPeriod, minuteFormatter } from './format';

describe('escapeHtml', () => {
  it('turns an img tag into inert text', () => {
    expect(escapeHtml('<img src="http://127.0.0.1:9/x">')).toBe(
      '&lt;img src=&quot;http://127.0.0.1:9/x&quot;&gt;',
    );
  });

  it('escapes ampersands and both quotes', () => {
    expect(escapeHtml(`Tom & Jerry's "shop"`)).toBe('Tom &amp; Jerry&#39;s &quot;shop&quot;');
  });

  it('drops NUL and other C0 control characters but keeps tabs and newlines', () => {
    expect(escapeHtml('a\u0000b\u0007c\u001Fd\u007Fe\tf\ng')).toBe('abcde\tf\ng');
  });

  it('replaces lone surrogates and keeps emoji and RTL text', () => {
    expect(escapeHtml('x\uD800y')).toBe('x\uFFFDy');
    expect(escapeHtml('😀 مرحبا')).toBe('😀 مرحبا');
  });
});

describe('formatPeriod', () => {
  it('shows the last included day of an exclusive end date, and the zone', () => {
    expect(formatPeriod('2021-10-01', '2021-11-01')).toBe('1 Oct 2021 – 31 Oct 2021 (UTC)');
    expect(formatPeriod('2021-10-01', '2021-11-01', 'Europe/Paris')).toBe(
      '1 Oct 2021 – 31 Oct 2021 (Europe/Paris)',
    );
  });

  it('shows a one-day period as that day', () => {
    expect(formatPeriod('2021-12-31', '2022-01-01')).toBe('31 Dec 2021 (UTC)');
  });

  it('handles a leap day at the end of February', () => {
    expect(formatPeriod('2024-02-01', '2024-03-01')).toBe('1 Feb 2024 – 29 Feb 2024 (UTC)');
  });

  it('rejects a malformed date', () => {
    expect(() => formatPeriod('2021-10-1', '2021-11-01')).toThrow('Invalid date');
  });
});

describe('minuteFormatter', () => {
  const at = (zone: string, iso: string) => minuteFormatter(zone)(new Date(iso));

  it('writes YYYY-MM-DD HH:mm in UTC by default', () => {
    expect(minuteFormatter()(new Date('2021-10-05T13:07:59Z'))).toBe('2021-10-05 13:07');
    expect(at('UTC', '0001-01-01T00:00:00Z')).toBe('0001-01-01 00:00');
  });

  it('writes local time, summer and winter', () => {
    expect(at('Europe/Paris', '2021-07-01T12:00:00Z')).toBe('2021-07-01 14:00');
    expect(at('Europe/Paris', '2021-12-01T12:00:00Z')).toBe('2021-12-01 13:00');
    expect(at('Asia/Kolkata', '2021-10-05T13:07:00Z')).toBe('2021-10-05 18:37');
    expect(at('America/New_York', '2021-10-01T02:30:00Z')).toBe('2021-09-30 22:30');
  });

  it('follows the clocks across the daylight-saving changes', () => {
    // 31 Oct 2021 in Paris: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice.
    expect(at('Europe/Paris', '2021-10-31T00:30:00Z')).toBe('2021-10-31 02:30');
    expect(at('Europe/Paris', '2021-10-31T01:30:00Z')).toBe('2021-10-31 02:30');
    expect(at('Europe/Paris', '2021-10-31T02:30:00Z')).toBe('2021-10-31 03:30');
    // 28 Mar 2021: 02:00 CET becomes 03:00 CEST, so no time starts with 02.
    expect(at('Europe/Paris', '2021-03-28T00:59:00Z')).toBe('2021-03-28 01:59');
    expect(at('Europe/Paris', '2021-03-28T01:00:00Z')).toBe('2021-03-28 03:00');
  });

  it('writes midnight as 00:00, not 24:00', () => {
    expect(at('Europe/Paris', '2021-10-31T23:00:00Z')).toBe('2021-11-01 00:00');
  });

  it('refuses an unknown zone', () => {
    expect(() => minuteFormatter('Mars/Olympus_Mons')).toThrow(RangeError);
  });
});
