import { periodBounds, periodDays, periodErrors } from './period';
import { isCalendarDay } from './validation';

describe('report period', () => {
  it('is half-open in UTC: the example period is exactly October', () => {
    const { from, to } = periodBounds('2021-10-01', '2021-11-01');
    expect(from.toISOString()).toBe('2021-10-01T00:00:00.000Z');
    expect(to.toISOString()).toBe('2021-11-01T00:00:00.000Z');
    expect(periodDays('2021-10-01', '2021-11-01')).toBe(31);
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
