/** Domain code never calls Date.now(): it takes a Clock, which tests freeze and advance. */
export interface Clock {
  now(): Date;
  /** The same instant as `now()` in epoch milliseconds, without allocating a Date (hot paths). */
  nowMs(): number;
}

export const systemClock: Clock = { now: () => new Date(), nowMs: Date.now };

export interface FakeClock extends Clock {
  set(time: Date | string): void;
  advance(ms: number): void;
}

export function createFakeClock(start: Date | string = '2026-01-15T10:00:00.000Z'): FakeClock {
  let current = new Date(start).getTime();
  return {
    now: () => new Date(current),
    nowMs: () => current,
    set: (time) => {
      current = new Date(time).getTime();
    },
    advance: (ms) => {
      current += ms;
    },
  };
}
