import { Environment } from '@marcbachmann/cel-js';
import { AppError } from '../../errors/app-error.ts';
import { createIpMatcher } from '../../net/cidr.ts';

/**
 * Rule conditions are CEL (the language of Google IAM Conditions): typed,
 * side-effect free and always terminating, so an administrator's expression
 * cannot hang or mutate anything. Variables describe one event; helpers add
 * CIDR membership and local time of day in a time zone.
 */
export interface ConditionInput {
  event: Record<string, unknown>;
  eventType: string;
  ip: string;
  outcome: string;
  time: string;
  actor: Record<string, unknown>;
  target: Record<string, unknown>;
  data: Record<string, unknown>;
  key: Record<string, unknown>;
  org: Record<string, unknown>;
}

export type Condition = (input: ConditionInput) => boolean;

const matchers = new Map<string, (ip: string) => boolean>();
/** A matcher per range, remembering recent answers: the same few thousand addresses recur. */
function cidrMatcher(range: string): (ip: string) => boolean {
  let m = matchers.get(range);
  if (!m) {
    const inner = createIpMatcher([range]);
    const answers = new Map<string, boolean>();
    m = (ip) => {
      let hit = answers.get(ip);
      if (hit === undefined) {
        hit = inner(ip);
        if (answers.size >= 10_000) answers.clear();
        answers.set(ip, hit);
      }
      return hit;
    };
    if (matchers.size > 10_000) matchers.clear();
    matchers.set(range, m);
  }
  return m;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const QUARTER_HOUR = 15 * 60_000;
const localCache = new Map<string, { hour: number; minute: number; weekday: number }>();

/**
 * Hour (0–23), weekday (0 = Sunday … 6) and minute of `time` in the IANA zone
 * `tz`. Every zone's offset is a multiple of 15 minutes, so one Intl lookup
 * per zone and UTC quarter-hour serves every event in it.
 */
let lastTime = '';
let lastTz = '';
let lastParts = { hour: 0, minute: 0, weekday: 0 };

export function localParts(time: string, tz: string): { hour: number; minute: number; weekday: number } {
  // Several rules usually ask about the same event's time in the same zone.
  if (time === lastTime && tz === lastTz) return lastParts;
  lastParts = computeLocal(time, tz);
  lastTime = time;
  lastTz = tz;
  return lastParts;
}

function computeLocal(time: string, tz: string): { hour: number; minute: number; weekday: number } {
  const ms = Date.parse(time);
  const bucket = Math.floor(ms / QUARTER_HOUR);
  const cacheKey = `${tz}\u0000${bucket}`;
  let start = localCache.get(cacheKey);
  if (!start) {
    start = computeParts(bucket * QUARTER_HOUR, tz);
    if (localCache.size >= 50_000) localCache.clear();
    localCache.set(cacheKey, start);
  }
  return {
    hour: start.hour,
    weekday: start.weekday,
    minute: start.minute + Math.floor((ms - bucket * QUARTER_HOUR) / 60_000),
  };
}

function computeParts(ms: number, tz: string): { hour: number; minute: number; weekday: number } {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
    });
    formatters.set(tz, f);
  }
  let hour = 0;
  let minute = 0;
  let weekday = 0;
  for (const part of f.formatToParts(new Date(ms))) {
    if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
    else if (part.type === 'weekday') weekday = WEEKDAYS.indexOf(part.value);
  }
  return { hour, minute, weekday };
}
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

const zones = new Map<string, boolean>();
export function isValidTimeZone(tz: string): boolean {
  let valid = zones.get(tz);
  if (valid === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      valid = true;
    } catch {
      valid = false;
    }
    if (zones.size < 1000) zones.set(tz, valid);
  }
  return valid;
}

/** Business hours of an organization: `{timezone, start, end, days}` (hours 0–24, days 0 = Sunday). */
export function withinBusinessHours(time: string, settings: Record<string, unknown>): boolean {
  const tz = typeof settings.timezone === 'string' ? settings.timezone : 'UTC';
  const start = Number(settings.businessStart ?? 9);
  const end = Number(settings.businessEnd ?? 18);
  const days = Array.isArray(settings.businessDays) ? settings.businessDays.map(Number) : [1, 2, 3, 4, 5];
  const { hour, minute, weekday } = localParts(time, tz);
  const h = hour + minute / 60;
  return days.includes(weekday) && h >= start && h < end;
}

function safeTz(tz: string): string {
  return isValidTimeZone(tz) ? tz : 'UTC';
}

const environment = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false })
  .registerVariable('event', 'map', { description: 'The whole event' })
  .registerVariable('eventType', 'string', { description: 'The event type' })
  .registerVariable('ip', 'string', { description: 'Source address ("" when none)' })
  .registerVariable('outcome', 'string')
  .registerVariable('time', 'string', { description: 'ISO-8601 UTC time of the event' })
  .registerVariable('actor', 'map')
  .registerVariable('target', 'map')
  .registerVariable('data', 'map')
  .registerVariable('key', 'map', {
    description: 'The API key the event is about (data.keyId or target): scope, decoy, owner, status',
  })
  .registerVariable('org', 'map', { description: 'Detection settings: timezone, businessStart/End/Days' })
  .registerFunction('inCidr(string, string): bool', (ip: string, range: string) => cidrMatcher(range)(ip))
  .registerFunction('inCidr(string, list<string>): bool', (ip: string, ranges: string[]) =>
    ranges.some((r) => cidrMatcher(r)(ip)),
  )
  .registerFunction('hourIn(string, string): int', (time: string, tz: string) =>
    BigInt(localParts(time, safeTz(tz)).hour),
  )
  .registerFunction('weekdayIn(string, string): int', (time: string, tz: string) =>
    BigInt(localParts(time, safeTz(tz)).weekday),
  )
  .registerFunction('businessHours(string, map): bool', (time: string, settings: unknown) =>
    withinBusinessHours(time, toPlain(settings)),
  );

function toPlain(value: unknown): Record<string, unknown> {
  if (value instanceof Map) return Object.fromEntries(value);
  return (value ?? {}) as Record<string, unknown>;
}

/** Compiles a condition or throws 422 `invalid_condition` naming the position (1-based column). */
export function compileCondition(source: string, location = '/body/condition'): Condition {
  let program: ReturnType<typeof environment.parse>;
  try {
    program = environment.parse(source);
    const checked = program.check();
    if (!checked.valid) throw checked.error;
    if (checked.type !== 'bool' && checked.type !== 'dyn') {
      throw new AppError(
        'invalid_condition',
        `The condition must be a boolean expression, not ${checked.type}`,
        {
          errors: [{ location, message: `returns ${checked.type}, expected bool` }],
        },
      );
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    const e = error as { summary?: string; message?: string; range?: { start?: number } };
    const offset = e.range?.start ?? 0;
    const before = source.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    const summary = (e.summary ?? e.message ?? 'does not compile').split('\n')[0];
    throw new AppError(
      'invalid_condition',
      `The condition does not compile at line ${line}, column ${column}: ${summary}`,
      {
        errors: [{ location, message: `line ${line}, column ${column} (offset ${offset}): ${summary}` }],
      },
    );
  }
  const run = program;
  return (input) => {
    try {
      return run(input as unknown as Record<string, unknown>) === true;
    } catch {
      // A runtime error (a missing field, a bad zone) means "no match", never a crash of the pipeline.
      return false;
    }
  };
}
