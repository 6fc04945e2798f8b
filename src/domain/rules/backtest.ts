import { AppError } from '../../errors/app-error.ts';
import type { Store } from '../../store/store.ts';
import { createRuleEngine, type EngineContext } from './engine.ts';
import type { Rule } from './types.ts';

/**
 * Replays stored events of [from, to) through one rule with fresh state, oldest
 * first, and reports what it would have fired; acts on nothing and records nothing.
 */
export async function backtestRule(
  deps: { store: Store; context: EngineContext },
  rule: Rule,
  range: { from: string; to: string; limit?: number | undefined },
) {
  const { store, context } = deps;
  const organizationId = rule.organizationId;
  if (rule.schedule)
    throw new AppError('validation_failed', 'A scheduled rule cannot be backtested', {
      errors: [{ location: '/params/id', message: 'scheduled rule' }],
    });
  if (range.from >= range.to)
    throw new AppError('validation_failed', 'from must be before to', {
      errors: [{ location: '/body/from', message: 'must be before to' }],
    });
  const testRule: Rule = { ...rule, enabled: true };
  const sandbox = createRuleEngine({ ...context, rulesFor: () => [testRule] });
  const org = await store.organizations.get(organizationId);
  const orgs = org?.isRoot ? [organizationId, '-'] : [organizationId];
  const max = range.limit ?? 1000;
  const firings: Array<{
    at: string;
    groupKey: string;
    group: Record<string, unknown>;
    count: number;
    eventIds: string[];
    ip: string | null;
    actions: string[];
  }> = [];
  let scanned = 0;
  let after: { time: string; seq: number } | undefined;
  let truncated = false;
  outer: for (;;) {
    const rows = await store.ruleEvents.between(orgs, range.from, range.to, after, 1000);
    for (const e of rows) {
      scanned += 1;
      for (const f of await sandbox.evaluate(e)) {
        if (firings.length >= max) {
          truncated = true;
          break outer;
        }
        firings.push({
          at: f.at,
          groupKey: f.groupKey,
          group: f.group,
          count: f.count,
          eventIds: f.eventIds,
          ip: f.event.ip,
          actions: rule.actions.map((a) =>
            rule.mode === 'monitor' && a.type !== 'alert' && a.type !== 'webhook'
              ? `${a.type} (monitor: not taken)`
              : a.type,
          ),
        });
      }
    }
    if (rows.length < 1000) break;
    const last = rows[rows.length - 1];
    if (last) after = { time: last.time, seq: last.seq };
  }
  return {
    ruleId: rule.id,
    ruleVersion: rule.version,
    from: range.from,
    to: range.to,
    eventsScanned: scanned,
    truncated,
    firings,
  };
}
