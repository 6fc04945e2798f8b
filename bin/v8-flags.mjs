import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings the server runs with (set by `bin/latchkey.mjs` at start, and by
 * the benchmarks for every server they start, Latchkey and bare Fastify alike).
 *
 * --no-allocation-site-pretenuring: V8 may decide, from one unlucky
 * garbage collection, that a per-request allocation site makes long-lived
 * objects and allocate them straight into the old generation. Every request
 * then keeps its young objects alive until the next full collection:
 * scavenges copy ~25 MB and take ~15 ms, p99 latency jumps from 1 to 11 ms and
 * throughput drops by a third for the life of the process. Under the API-key
 * benchmark this happened to about one server start in three; with the flag,
 * in none of 16 (see docs/api-keys.md, "Measured"). A request/response server
 * makes almost only short-lived objects, so it loses nothing by it.
 */
export const V8_FLAGS = ['--no-allocation-site-pretenuring'];

export function applyV8Flags() {
  for (const flag of V8_FLAGS) setFlagsFromString(flag);
}
