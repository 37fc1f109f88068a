/**
 * NotifyKeys, the check every LISTEN path makes of an outbox notification (018). Signing here
 * is the testkit's (Node's HMAC); signed-notifications.test.ts checks it against the SQL.
 */
import { randomBytes } from 'node:crypto';
import { InvalidBusMessage } from '@matchcast/protocol';
import { signedNotification } from '@matchcast/testkit';
import { NotifyKeys } from '../../src/notify-keys';

const secret = randomBytes(32);
const sign = (payload: string, id = 3, key = secret) => signedNotification(payload, id, key);
const payload = JSON.stringify({ id: '12', stream: 'match:m1', seq: 7, type: 'match_update', match_id: 'm1', data: { note: 'Gól ⚽ — 1–0' } });

describe('NotifyKeys', () => {
  const keys = new NotifyKeys();
  keys.replace([{ id: 3, secret }]);

  it('gives back the payload without its signature, multi-byte text included', () => {
    expect(keys.open(sign(payload))).toBe(payload);
  });

  it('refuses every one-character change anywhere in a signed notification', () => {
    const signed = sign(payload);
    let refused = 0;
    for (let i = 0; i < signed.length; i++) {
      const changed = signed.slice(0, i) + (signed[i] === 'x' ? 'y' : 'x') + signed.slice(i + 1);
      expect(() => keys.open(changed)).toThrow(InvalidBusMessage);
      refused++;
    }
    expect(refused).toBe(signed.length);
  });

  it('refuses cut, extended and re-keyed notifications, and garbage, with InvalidBusMessage only', () => {
    const signed = sign(payload);
    const cases = [
      '', '{}', 'x'.repeat(100_000), signed.slice(1), signed.slice(0, -1), `${signed}\n`, ` ${signed}`,
      sign(payload, 4), sign(payload, 3, randomBytes(32)), sign(`${payload.slice(0, -1)},"seq":8}`).replace(/,"seq":8/, ''),
      `${payload.slice(0, -1)},"mac":"3.${'A'.repeat(43)}="}`, `${payload.slice(0, -1)},"mac":"03.${'A'.repeat(43)}="}`,
      `{"mac":"3.${'A'.repeat(43)}="}`, '\u0000'.repeat(80), '\ud800'.repeat(80),
    ];
    for (const text of cases) expect(() => keys.open(text)).toThrow(InvalidBusMessage);
  });

  it('takes a new key set whole: a key rotated away no longer verifies', () => {
    const rotated = new NotifyKeys();
    rotated.replace([{ id: 3, secret }, { id: 4, secret: randomBytes(32) }]);
    expect(rotated.open(sign(payload))).toBe(payload);
    rotated.replace([{ id: 4, secret: randomBytes(32) }]);
    expect(() => rotated.open(sign(payload))).toThrow(/unknown key 3/);
  });
});
