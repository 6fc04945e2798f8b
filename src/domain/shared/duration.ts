const UNITS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

export const DURATION_PATTERN = '^[0-9]{1,6}[smhdw]$';

/** `"90d"`, `"12h"`, `"30m"` → milliseconds; `undefined` when not of that shape. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,6})([smhdw])$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (UNITS[match[2]!] ?? 0);
}
