type Getter = (source: unknown) => unknown;
const getters = new Map<string, Getter>();

/** A reader for a dotted path, split once and cached: the hot path reads the same few paths. */
export function compilePath(path: string): Getter {
  let getter = getters.get(path);
  if (!getter) {
    const parts = path.split('.');
    getter = (source) => {
      let current: unknown = source;
      for (const part of parts) {
        if (current === null || typeof current !== 'object') return undefined;
        current = (current as Record<string, unknown>)[part];
      }
      return current;
    };
    if (getters.size < 10_000) getters.set(path, getter);
  }
  return getter;
}

/** Reads a dotted path (`data.keyId`, `actor.id`, `ip`) from an event-shaped object. */
export function readPath(source: unknown, path: string): unknown {
  return compilePath(path)(source);
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
  return compileAlternatives(paths)(source);
}

const alternatives = new Map<string, Getter>();
export function compileAlternatives(paths: string): Getter {
  let getter = alternatives.get(paths);
  if (!getter) {
    const each = paths.split('|').map(compilePath);
    getter = (source) => {
      for (const get of each) {
        const v = get(source);
        if (v !== undefined && v !== null && v !== '') return v;
      }
      return undefined;
    };
    if (alternatives.size < 10_000) alternatives.set(paths, getter);
  }
  return getter;
}
