import type { FastifyInstance, FastifyReply, onResponseHookHandler, RouteOptions } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { routeHooks } from './route-config.ts';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface RouteStats {
  method: string;
  route: string;
  byStatus: Map<number, number>;
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  buckets: number[];
  sum: number;
  count: number;
}

export interface Metrics {
  contentType: string;
  metrics(): Promise<string>;
}

function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Prometheus metrics on a registry of this app's own (several apps can live in
 * one test process). Request counts and latencies are kept in plain maps and
 * rendered at scrape time: prom-client's labelled inc/observe hashed the label
 * set on every request, which cost a fifth of the API-key hot path's throughput.
 */
export function registerMetrics(app: FastifyInstance): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  const stats = new Map<string, RouteStats>();

  function statsFor(method: string, route: string): RouteStats {
    const key = `${method} ${route}`;
    let s = stats.get(key);
    if (!s) {
      s = {
        method,
        route,
        byStatus: new Map(),
        buckets: new Array(BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      stats.set(key, s);
    }
    return s;
  }

  function observe(s: RouteStats, reply: FastifyReply): void {
    s.byStatus.set(reply.statusCode, (s.byStatus.get(reply.statusCode) ?? 0) + 1);
    const seconds = reply.elapsedTime / 1000;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    s.buckets[i]! += 1;
    s.sum += seconds;
    s.count += 1;
  }

  // Each route gets its own onResponse hook holding its statistics, found by method (a route may
  // have several); labelled by the route pattern, never the raw URL, so ids and query strings stay
  // out of label values. Unmatched URLs count under route="unmatched".
  app.addHook('onRoute', (route: RouteOptions) => {
    // A single-method route holds its statistics directly; a multi-method one finds them by method.
    const single = typeof route.method === 'string' ? statsFor(route.method, route.url) : undefined;
    const byMethod = new Map<string, RouteStats>();
    const hook: onResponseHookHandler = (request, reply, done) => {
      let s = single;
      if (!s) {
        s = byMethod.get(request.method);
        if (!s) {
          s = statsFor(request.method, route.url);
          byMethod.set(request.method, s);
        }
      }
      observe(s, reply);
      done();
    };
    route.onResponse = [...routeHooks(route.onResponse), hook];
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) observe(statsFor(request.method, 'unmatched'), reply);
    done();
  });

  function render(): string {
    const lines = [
      '# HELP latchkey_http_requests_total HTTP requests by method, route pattern and status',
      '# TYPE latchkey_http_requests_total counter',
    ];
    for (const s of stats.values()) {
      for (const [status, n] of s.byStatus) {
        lines.push(
          `latchkey_http_requests_total{method="${s.method}",route="${label(s.route)}",status="${status}"} ${n}`,
        );
      }
    }
    lines.push(
      '# HELP latchkey_http_request_duration_seconds HTTP request latency by route pattern',
      '# TYPE latchkey_http_request_duration_seconds histogram',
    );
    for (const s of stats.values()) {
      if (s.count === 0) continue; // routes that have not answered yet
      const labels = `method="${s.method}",route="${label(s.route)}"`;
      let cumulative = 0;
      BUCKETS.forEach((le, i) => {
        cumulative += s.buckets[i]!;
        lines.push(`latchkey_http_request_duration_seconds_bucket{${labels},le="${le}"} ${cumulative}`);
      });
      lines.push(`latchkey_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${s.count}`);
      lines.push(`latchkey_http_request_duration_seconds_sum{${labels}} ${s.sum}`);
      lines.push(`latchkey_http_request_duration_seconds_count{${labels}} ${s.count}`);
    }
    return `${lines.join('\n')}\n`;
  }

  return {
    contentType: registry.contentType,
    metrics: async () => `${await registry.metrics()}${render()}`,
  };
}
