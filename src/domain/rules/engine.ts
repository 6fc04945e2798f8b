import type { StoredEvent } from '../../store/repos/events.ts';
import { parseDuration } from '../shared/duration.ts';
import { type Condition, type ConditionInput, compileCondition } from './condition.ts';
import { compilePath, compileTypeMatcher, namesExactly, readPath } from './paths.ts';
import type { Firing, Rule } from './types.ts';
import { createThresholdState, type ThresholdState } from './windows.ts';

/** Where the engine gets what an event alone does not say. Each lookup is cached by the caller. */
export interface EngineContext {
  /** Enabled event-driven rules of an organization. */
  rulesFor(organizationId: string): Promise<readonly Rule[]> | readonly Rule[];
  /** Facts about the API key an event is about (scope, decoy, owner, status); `{}` when unknown. */
  keyInfo(organizationId: string, keyId: string): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Detection settings (timezone, business hours). */
  orgSettings(organizationId: string): Promise<Record<string, unknown>> | Record<string, unknown>;
  /**
   * When `value` of `field` was last seen for this group before `before`
   * (ms), searching back to `since`; undefined when never. Used by `newValue`
   * rules when memory has no answer (after a restart, or for a new group).
   */
  lastSeen?(rule: Rule, event: StoredEvent, field: string, since: string): Promise<string | undefined>;
}

interface CompiledRule {
  rule: Rule;
  matches: (type: string) => boolean;
  condition: Condition | null;
  needsKey: boolean;
  needsOrg: boolean;
  threshold: ThresholdState | null;
  cooldownMs: number;
  cooldowns: Map<string, number>;
  seen: Map<string, number> | null;
  lookbackMs: number;
}

const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function compile(rule: Rule): CompiledRule {
  const condition = rule.condition ? compileCondition(rule.condition) : null;
  return {
    rule,
    matches: compileTypeMatcher(rule.on),
    condition,
    needsKey: rule.condition?.includes('key') ?? false,
    needsOrg: rule.condition?.includes('org') ?? false,
    threshold: rule.threshold ? createThresholdState(rule.threshold) : null,
    cooldownMs: rule.cooldown ? (parseDuration(rule.cooldown) ?? 0) : 0,
    cooldowns: new Map(),
    seen: rule.newValue ? new Map() : null,
    lookbackMs: rule.newValue ? (parseDuration(rule.newValue.lookback) ?? 0) : 0,
  };
}

function groupOf(
  fields: readonly string[] | undefined,
  event: StoredEvent,
): { key: string; group: Record<string, unknown> } {
  if (!fields || fields.length === 0) return { key: '*', group: {} };
  const group: Record<string, unknown> = {};
  let key = '';
  for (const f of fields) {
    const v = compilePath(f)(event);
    group[f] = v ?? null;
    key += `${key ? '|' : ''}${v === undefined || v === null ? '' : String(v)}`;
  }
  return { key, group };
}

/** The API key an event is about: `data.keyId`, or its target when that is a key. */
export function keyIdOf(event: StoredEvent): string | undefined {
  const fromData = event.data.keyId;
  if (typeof fromData === 'string') return fromData;
  return event.target?.type === 'api_key' ? event.target.id : undefined;
}

/**
 * Decides, for each event in commit order, which rules fire. Stateless about
 * delivery: it neither reads the event table nor acts; the consumer feeds it
 * and the responder acts on what it returns, so live evaluation, replay after
 * a restart (`warm`) and backtests share one code path.
 */
export function createRuleEngine(ctx: EngineContext) {
  const compiled = new Map<string, CompiledRule>();

  function compiledFor(rule: Rule): CompiledRule {
    const existing = compiled.get(rule.id);
    if (existing && existing.rule.version === rule.version && existing.rule.updatedAt === rule.updatedAt) {
      return existing;
    }
    const next = compile(rule);
    // A new version starts with fresh windows but keeps its cooldowns: editing a rule must not re-page.
    if (existing) for (const [k, v] of existing.cooldowns) next.cooldowns.set(k, v);
    compiled.set(rule.id, next);
    return next;
  }

  /** Rules by event type, rebuilt whenever the context hands over a new rule list. */
  const indexes = new WeakMap<readonly Rule[], Map<string, CompiledRule[]>>();
  function rulesForType(rules: readonly Rule[], type: string): CompiledRule[] {
    let index = indexes.get(rules);
    if (!index) {
      index = new Map();
      indexes.set(rules, index);
    }
    let list = index.get(type);
    if (!list) {
      list = rules
        .filter((r) => r.schedule === null)
        .map(compiledFor)
        .filter((c) => c.matches(type));
      index.set(type, list);
    }
    return list;
  }

  async function evaluate(event: StoredEvent, options: { warm?: boolean } = {}): Promise<Firing[]> {
    const pending = ctx.rulesFor(event.organizationId);
    const rules = pending instanceof Promise ? await pending : pending;
    if (rules.length === 0) return [];
    const fromRule = event.actor.type === 'rule';
    let input: ConditionInput | undefined;
    let at = Number.NaN;
    let firings: Firing[] | undefined;
    let lookups: Map<string, string | undefined> | undefined;
    for (const c of rulesForType(rules, event.type)) {
      const rule = c.rule;
      // What automation did is not evidence for more automation unless a rule asks for that type by name.
      if (fromRule && !namesExactly(rule.on, event.type)) continue;
      if (c.condition) {
        if (!input) input = toInput(event);
        if (c.needsKey && input.key === EMPTY) {
          const keyId = keyIdOf(event);
          if (keyId) {
            const facts = ctx.keyInfo(event.organizationId, keyId);
            input.key = facts instanceof Promise ? await facts : facts;
          }
        }
        if (c.needsOrg && input.org === EMPTY) {
          const settings = ctx.orgSettings(event.organizationId);
          input.org = settings instanceof Promise ? await settings : settings;
        }
        if (!c.condition(input)) continue;
      }
      if (Number.isNaN(at)) at = Date.parse(event.time);
      let count = 1;
      let eventIds = [event.id];
      let groupKey = '*';
      let group: Record<string, unknown> = {};
      if (c.seen && rule.newValue) {
        const g = groupOf(rule.newValue.groupBy, event);
        groupKey = g.key;
        group = g.group;
        const value = readPath(event, rule.newValue.field);
        if (value === undefined || value === null || value === '') continue;
        const seenKey = `${g.key}\u0000${String(value)}`;
        let last = c.seen.get(seenKey);
        if (last === undefined && ctx.lastSeen) {
          // Rules asking the same question about this event share one lookup.
          const question = `${rule.on.join(',')}\u0000${rule.newValue.groupBy.join(',')}\u0000${rule.newValue.field}\u0000${c.lookbackMs}`;
          lookups ??= new Map();
          let found = lookups.get(question);
          if (!lookups.has(question)) {
            const since = new Date(at - c.lookbackMs).toISOString();
            found = await ctx.lastSeen(rule, event, rule.newValue.field, since);
            lookups.set(question, found);
          }
          if (found !== undefined) last = Date.parse(found);
        }
        c.seen.set(seenKey, at);
        if (c.seen.size > 200_000) c.seen.delete(c.seen.keys().next().value as string);
        if (last !== undefined && last > at - c.lookbackMs) continue;
        group = { ...group, [rule.newValue.field]: value };
      } else if (c.threshold && rule.threshold) {
        const g = groupOf(rule.threshold.groupBy, event);
        groupKey = g.key;
        group = g.group;
        const hit = c.threshold.add(g.key, at, event.id, event);
        if (!hit) continue;
        count = hit.count;
        eventIds = hit.eventIds;
      }
      if (options.warm) continue;
      if (c.cooldownMs > 0) {
        const until = c.cooldowns.get(groupKey);
        if (until !== undefined && at < until) continue;
        c.cooldowns.set(groupKey, at + c.cooldownMs);
      }
      if (!firings) firings = [];
      firings.push({ rule, groupKey, group, count, eventIds, event, at: event.time });
    }
    return firings ?? [];
  }

  return {
    evaluate,
    /** Restores a cooldown after a restart from the firing log. */
    primeCooldown(rule: Rule, groupKey: string, firedAt: string): void {
      const c = compiledFor(rule);
      if (c.cooldownMs > 0) c.cooldowns.set(groupKey, Date.parse(firedAt) + c.cooldownMs);
    },
    forget(ruleId: string): void {
      compiled.delete(ruleId);
    },
    stateSize(): number {
      let n = 0;
      for (const c of compiled.values()) n += (c.threshold?.size() ?? 0) + (c.seen?.size ?? 0);
      return n;
    },
  };
}

export type RuleEngine = ReturnType<typeof createRuleEngine>;

function toInput(event: StoredEvent): ConditionInput {
  return {
    event: event as unknown as Record<string, unknown>,
    eventType: event.type,
    ip: event.ip ?? '',
    outcome: event.outcome,
    time: event.time,
    actor: event.actor as unknown as Record<string, unknown>,
    target: (event.target ?? EMPTY) as Record<string, unknown>,
    data: event.data,
    key: EMPTY,
    org: EMPTY,
  };
}
