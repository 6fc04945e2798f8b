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

let lastTime = -1;
let lastRandom: number[] = [];

/** Adds one to a base-32 digit array (the ULID monotonic rule); the 80-bit space never overflows in practice. */
function increment(digits: number[]): number[] {
  const out = [...digits];
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 31) {
      out[i]! += 1;
      return out;
    }
    out[i] = 0;
  }
  return out;
}

/**
 * A prefixed, time-ordered identifier (`usr_01jd3k8v6m…`): 48 bits of
 * millisecond time then 80 random bits, Crockford base32 (the ULID layout).
 * Ids made in the same millisecond (or under a frozen test clock) increase
 * monotonically, so ids always sort in creation order as plain strings.
 */
export function newId(kind: IdKind, now: number = Date.now()): string {
  let random: number[];
  let time = now;
  if (time <= lastTime) {
    time = lastTime;
    random = increment(lastRandom);
  } else {
    random = [...random16()].map((b) => b % 32);
    // Keep the top bit clear so increments have room before wrapping.
    random[0] = random[0]! % 16;
  }
  lastTime = time;
  lastRandom = random;
  let head = '';
  let t = time;
  for (let i = 0; i < 10; i++) {
    head = CROCKFORD[t % 32] + head;
    t = Math.floor(t / 32);
  }
  return `${kind}_${head}${random.map((d) => CROCKFORD[d]).join('')}`;
}
