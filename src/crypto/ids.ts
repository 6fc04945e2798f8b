import { randomFillSync } from 'node:crypto';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdKind = 'org' | 'usr' | 'rol' | 'key' | 'evt' | 'req' | 'seal' | (string & {});

// One call into the CSPRNG per 256 ids rather than per id: request ids are made on every request.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function random16(): Buffer {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += 16;
  return pool.subarray(poolOffset - 16, poolOffset);
}

const RANDOM_DIGITS = 16;
let lastTime = -1;
let lastHead = '';
/** The random part of the last id, one base-32 digit per byte, incremented in place. */
const lastRandom = new Uint8Array(RANDOM_DIGITS);
/** Its first 15 digits as text: rebuilt only when an increment carries past the last digit (1 time in 32). */
let lastRandomHead = '';

function randomHead(): string {
  let text = '';
  for (let i = 0; i < RANDOM_DIGITS - 1; i++) text += CROCKFORD[lastRandom[i]!];
  return text;
}

/**
 * Adds one to the base-32 digits (the ULID monotonic rule); the 80-bit space
 * never overflows in practice. True when a digit before the last one changed.
 */
function increment(digits: Uint8Array): boolean {
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i]! < 31) {
      digits[i]! += 1;
      return i < digits.length - 1;
    }
    digits[i] = 0;
  }
  return true;
}

function timeHead(time: number): string {
  let head = '';
  let t = time;
  for (let i = 0; i < 10; i++) {
    head = CROCKFORD[t % 32] + head;
    t = Math.floor(t / 32);
  }
  return head;
}

/**
 * A prefixed, time-ordered identifier (`usr_01jd3k8v6m…`): 48 bits of
 * millisecond time then 80 random bits, Crockford base32 (the ULID layout).
 * Ids made in the same millisecond (or under a frozen test clock) increase
 * monotonically, so ids always sort in creation order as plain strings.
 * Request ids are made on every request: most calls only join cached text
 * and the last digit.
 */
export function newId(kind: IdKind, now: number = Date.now()): string {
  if (now <= lastTime) {
    if (increment(lastRandom)) lastRandomHead = randomHead();
  } else {
    const bytes = random16();
    for (let i = 0; i < RANDOM_DIGITS; i++) lastRandom[i] = bytes[i]! % 32;
    // Keep the top bit clear so increments have room before wrapping.
    lastRandom[0] = lastRandom[0]! % 16;
    lastTime = now;
    lastHead = timeHead(now);
    lastRandomHead = randomHead();
  }
  return `${kind}_${lastHead}${lastRandomHead}${CROCKFORD[lastRandom[RANDOM_DIGITS - 1]!]}`;
}
