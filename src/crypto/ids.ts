import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdKind = 'org' | 'usr' | 'rol' | 'key' | 'evt' | 'req' | 'seal' | (string & {});

/**
 * A prefixed, time-ordered identifier (`usr_01jd3k8v6m…`): 48 bits of
 * millisecond time then 80 random bits, Crockford base32 (the ULID layout),
 * so ids sort by creation time as plain strings.
 */
export function newId(kind: IdKind, now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[(bytes[i] ?? 0) % 32];
  return `${kind}_${time}${rand}`;
}
