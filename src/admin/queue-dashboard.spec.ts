import { carriesToken } from './queue-dashboard';

const TOKEN = 'a-very-long-admin-token';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('carriesToken', () => {
  it('accepts the token as a bearer token or as the Basic password of any user', () => {
    expect(carriesToken(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(carriesToken(`bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(carriesToken(basic('admin', TOKEN), TOKEN)).toBe(true);
    expect(carriesToken(basic('', TOKEN), TOKEN)).toBe(true);
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another token', 'Bearer a-very-long-admin-tokeN'],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the token as Basic user name', basic(TOKEN, '')],
    ['Basic without a colon', `Basic ${Buffer.from(TOKEN).toString('base64')}`],
    ['another scheme', `Token ${TOKEN}`],
  ])('refuses %s', (_why, header) => {
    expect(carriesToken(header, TOKEN)).toBe(false);
  });
});
