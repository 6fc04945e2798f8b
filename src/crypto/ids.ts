import { randomFillSync } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdKind = 'org' | 'usr' | 'rol' | 'key' | 'evt' | 'req' | 'seal' | (string & {});

/**
 * A prefixed, time-ordered identifier (`usr_01jd3k8v6m…`): 48 bits of
 * millisecond time then 80 random bits, Crockford base32 (the ULID layout),
 * so ids sort by creation time as plain strings.
 */
// One call into the CSPRNG per 256 ids instead of one per id: ids are made on every request (request ids).
const pool = Buffer.alloc(4096);
let offset = pool.length;
function random16(): Buffer {
  if (offset + 16 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  offset += 16;
  return pool.subarray(offset - 16, offset);
}

export function newId(kind: IdKind, now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = random16();
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[(bytes[i] ?? 0) % 32];
  return `${kind}_${time}${rand}`;
}
