import { Cron } from 'croner';
import type { StoredEvent } from '../../store/repos/events.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import { parseDuration } from '../shared/duration.ts';
import type { RequestContext } from '../shared/types.ts';
import { runKeyCheck } from './checks.ts';
import type { Responder } from './responder.ts';
import type { Rule } from './types.ts';

/**
 * Scheduled checks: one `croner` job per enabled rule with a `schedule`,
 * re-synchronised with the rules table every minute.
 */
export function createScheduler(deps: {
  store: Store;
  clock: Clock;
  responder: Responder;
  onError?: ((error: unknown) => void) | undefined;
}) {
  const { store, clock, responder } = deps;

  /** Runs a scheduled rule's check now: each finding is an event, and a firing unless in cooldown. */
  async function runScheduled(rule: Rule): Promise<number> {
    if (!rule.check) return 0;
    const findings = await runKeyCheck(store.detection, rule.organizationId, rule.check, clock.now());
    const ctx: RequestContext = {
      actor: { type: 'rule', id: rule.id, display: rule.name },
      ip: null,
      userAgent: null,
      requestId: null,
    };
    let fired = 0;
    const cooldownMs = rule.cooldown ? (parseDuration(rule.cooldown) ?? 0) : 0;
    for (const f of findings) {
      const last = await store.rules.lastFiring(rule.id, f.keyId);
      if (last && Date.parse(last) + cooldownMs > clock.now().getTime()) continue;
      const event = buildEvent(clock, ctx, {
        organizationId: rule.organizationId,
        type: `api_key.${f.finding}`,
        target: { type: 'api_key', id: f.keyId },
        data: {
          keyId: f.keyId,
          name: f.name,
          hint: f.hint,
          finding: f.finding,
          detail: f.detail,
          ruleId: rule.id,
        },
      });
      const stored: StoredEvent = { ...event, seq: 0 };
      // One firing per key and finding per cooldown period (or day), whichever node runs the cron.
      const slot = Math.floor(clock.now().getTime() / Math.max(cooldownMs, 86_400_000));
      const acted = await responder.handle({
        rule,
        groupKey: f.keyId,
        group: { keyId: f.keyId, finding: f.finding },
        count: 1,
        eventIds: [event.id],
        event: stored,
        at: event.time,
        dedupKey: `${f.keyId}:${f.finding}:${slot}`,
        evidence: [event],
      });
      if (acted) fired += 1;
    }
    return fired;
  }

  const crons = new Map<string, { version: number; cron: Cron }>();
  let cronSync: NodeJS.Timeout | undefined;
  async function syncCrons(): Promise<void> {
    const rules = await store.rules.scheduled();
    const live = new Set(rules.map((r) => r.id));
    for (const [id, c] of crons) {
      if (!live.has(id)) {
        c.cron.stop();
        crons.delete(id);
      }
    }
    for (const rule of rules) {
      const existing = crons.get(rule.id);
      if (existing && existing.version === rule.version) continue;
      existing?.cron.stop();
      const cron = new Cron(
        rule.schedule ?? '0 6 * * *',
        { protect: true, catch: (e) => deps.onError?.(e) },
        async () => {
          const current = await store.rules.get(rule.organizationId, rule.id);
          if (current?.enabled) await runScheduled(current);
        },
      );
      crons.set(rule.id, { version: rule.version, cron });
    }
  }

  return {
    runScheduled,
    start(): void {
      void syncCrons().catch(deps.onError);
      cronSync = setInterval(() => void syncCrons().catch(deps.onError), 60_000);
      cronSync.unref();
    },
    stop(): void {
      if (cronSync) clearInterval(cronSync);
      for (const c of crons.values()) c.cron.stop();
      crons.clear();
    },
  };
}
