import { canonicalTimeZone, periodBounds, periodDays, periodErrors } from './period';
import { isCalendarDay } from './validation';

describe('report period', () => {
  it('is half-open in UTC: the example period is exactly October', () => {
    const { from, to } = periodBounds('2021-10-01', '2021-11-01');
    expect(from.toISOString()).toBe('2021-10-01T00:00:00.000Z');
    expect(to.toISOString()).toBe('2021-11-01T00:00:00.000Z');
    expect(periodDays('2021-10-01', '2021-11-01')).toBe(31);
  });

  it("runs from local midnight to local midnight in the merchant's zone", () => {
    const { from, to } = periodBounds('2021-10-01', '2021-11-01', 'Europe/Paris');
    expect(from.toISOString()).toBe('2021-09-30T22:00:00.000Z');
    expect(to.toISOString()).toBe('2021-10-31T23:00:00.000Z');
    const tokyo = periodBounds('2021-10-01', '2021-10-02', 'Asia/Tokyo');
    expect(tokyo.from.toISOString()).toBe('2021-09-30T15:00:00.000Z');
  });

  it('counts the hours of a day a daylight saving change lengthens or shortens', () => {
    const hours = (start: string, end: string, zone: string) => {
      const { from, to } = periodBounds(start, end, zone);
      return (to.getTime() - from.getTime()) / 3_600_000;
    };
    expect(hours('2021-10-31', '2021-11-01', 'Europe/Paris')).toBe(25);
    expect(hours('2021-03-28', '2021-03-29', 'Europe/Paris')).toBe(23);
    expect(hours('2021-11-07', '2021-11-08', 'America/New_York')).toBe(25);
  });

  it('starts a day whose midnight a daylight saving change skips at its first instant', () => {
    // Chile moved its clocks from 00:00 to 01:00 on 2021-09-05.
    const { from } = periodBounds('2021-09-05', '2021-09-06', 'America/Santiago');
    expect(from.toISOString()).toBe('2021-09-05T04:00:00.000Z');
  });

  it('knows IANA zones by their canonical name, and nothing else', () => {
    expect(canonicalTimeZone('Europe/Paris')).toBe('Europe/Paris');
    expect(canonicalTimeZone('europe/paris')).toBe('Europe/Paris');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    for (const bad of ['Mars/Olympus', '+02:00', 'CEST2', '', ' Europe/Paris', 42, null]) {
      expect(canonicalTimeZone(bad)).toBeUndefined();
    }
  });

  it('counts days in UTC, unaffected by daylight saving changes', () => {
    expect(periodDays('2021-03-27', '2021-03-29')).toBe(2);
    expect(periodDays('2020-02-28', '2020-03-01')).toBe(2);
  });

  it('refuses an end_date equal to or before start_date', () => {
    expect(periodErrors('2021-10-01', '2021-10-01', 366)).toEqual([
      { field: 'end_date', message: 'must be after start_date' },
    ]);
    expect(periodErrors('2021-10-02', '2021-10-01', 366)).toHaveLength(1);
  });

  it('accepts exactly the maximum range and refuses one day more', () => {
    expect(periodErrors('2021-01-01', '2022-01-02', 366)).toEqual([]);
    expect(periodErrors('2021-01-01', '2022-01-03', 366)).toEqual([
      { field: 'end_date', message: 'must be at most 366 days after start_date' },
    ]);
  });

  it('recognises only real calendar days', () => {
    expect(isCalendarDay('2021-02-28')).toBe(true);
    expect(isCalendarDay('2020-02-29')).toBe(true);
    for (const bad of [
      '2021-02-30',
      '2021-13-01',
      '2021-1-01',
      '2021-10-01T00:00:00Z',
      '',
      20211001,
    ]) {
      expect(isCalendarDay(bad)).toBe(false);
    }
  });
});
