import type { IncomingMessage } from 'node:http';
import { requestId } from './request-id';

const withHeader = (header?: string | string[]) =>
  requestId({ headers: { 'x-request-id': header } } as unknown as IncomingMessage);

describe('requestId', () => {
  it('keeps a valid incoming x-request-id', () => {
    expect(withHeader('abc-123_X')).toBe('abc-123_X');
    expect(withHeader('a'.repeat(64))).toBe('a'.repeat(64));
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['too long', 'a'.repeat(65)],
    ['made of other characters', 'abc 123\nforged'],
    ['repeated', ['a', 'b']],
  ])('generates a UUID when the incoming id is %s', (_why, header) => {
    expect(withHeader(header)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
