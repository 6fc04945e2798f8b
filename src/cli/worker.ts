import type { Config } from '../config/schema.ts';
import { openRuntime } from '../runtime.ts';

/**
 * `latchkey worker`: the event dispatcher alone (outbox fan-out and webhook
 * delivery), for deployments that scale delivery apart from the API. Any
 * number of workers and servers may share one PostgreSQL database. It runs the
 * rule engine's consumer too on PostgreSQL (firings are claimed once across
 * processes); on SQLite rules are evaluated by `latchkey serve` only.
 */
export async function worker(config: Readonly<Config>, options: { once?: boolean } = {}): Promise<void> {
  const runtime = await openRuntime(config, {
    onBackgroundError: (error) => console.error('latchkey worker: dispatch failed, will retry:', error),
  });
  const { services } = runtime;
  if (options.once) {
    try {
      await services.dispatcher.runUntilIdle();
      await services.rules.drain();
    } finally {
      await runtime.close();
    }
    return;
  }
  services.dispatcher.start();
  // On SQLite the rule consumer stays with `latchkey serve`: a second process evaluating rules on the
  // same file contends for its single write lock and starved webhook delivery (bench:webhooks, 2026-11-22).
  if (runtime.db.dialect === 'postgres') services.rules.start(config.rulesPollInterval);
  process.stderr.write(`Latchkey worker is dispatching events (${runtime.db.describe})\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await runtime.close(); // waits for attempts in flight
      process.exit(0);
    } catch (error) {
      console.error('latchkey worker: shutdown failed:', error);
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}
