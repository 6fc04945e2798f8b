/** Reads a dotted path (`data.keyId`, `actor.id`, `ip`) from an event-shaped object. */
export function readPath(source: unknown, path: string): unknown {
  let current: unknown = source;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

export const FIELD_PATH_PATTERN = '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*){0,4}$';

/** Event type patterns: `auth.failed`, `api_key.*`, `*`. */
export function compileTypeMatcher(patterns: readonly string[]): (type: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let all = false;
  for (const p of patterns) {
    if (p === '*') all = true;
    else if (p.endsWith('.*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  if (all) return () => true;
  return (type) => exact.has(type) || prefixes.some((prefix) => type.startsWith(prefix));
}

/** True when a pattern names the type literally (not through a wildcard). */
export function namesExactly(patterns: readonly string[], type: string): boolean {
  return patterns.includes(type);
}

/** `data.email|data.keyHint`: the first alternative that is present. */
export function readFirst(source: unknown, paths: string): unknown {
  for (const path of paths.split('|')) {
    const v = readPath(source, path);
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}
