import { AppError } from '../../errors/app-error.ts';
import type { OutboundHttp } from '../../net/outbound.ts';
import type { StoredEvent } from '../../store/repos/events.ts';
import type { Store } from '../../store/store.ts';
import type { AlertService } from '../alerts/service.ts';
import type { ApiKeyService } from '../api-keys/service.ts';
import type { IpBlockList } from '../detection/ip-blocks.ts';
import type { Clock } from '../shared/clock.ts';
import { systemContext } from '../shared/types.ts';
import type { UserService } from '../users/service.ts';
import { backtestRule } from './backtest.ts';
import { createEventTableFeed, type EventFeed } from './consumer.ts';
import { createRuleEngine, type EngineContext } from './engine.ts';
import { createResponder, type SessionTerminator } from './responder.ts';
import { createScheduler } from './scheduler.ts';
import { createRuleService } from './service.ts';
import type { Rule } from './types.ts';

const CACHE_MS = 5_000;

/** Facts of an unknown key: every field present, so conditions compare instead of failing. */
const UNKNOWN_KEY: Record<string, unknown> = Object.freeze({
  id: '',
  name: '',
  scope: '',
  readOnly: false,
  owner: false,
  decoy: false,
  status: 'unknown',
  createdAt: '',
  expiresAt: '',
});

/**
 * Rules end to end: the CRUD service, the engine with its caches, the
 * durable event consumer that feeds it, the responder that acts, scheduled
 * checks and backtests. `drain()` handles every committed event now (tests,
 * shutdown); `start()` polls in `latchkey serve`.
 */
export function createRulesRuntime(deps: {
  store: Store;
  clock: Clock;
  apiKeys: ApiKeyService;
  users: UserService;
  alerts: AlertService;
  ipBlocks: IpBlockList;
  http: () => OutboundHttp;
  sessions?: SessionTerminator;
  warmupMs?: number;
  onError?: (error: unknown) => void;
}) {
  const { store, clock } = deps;
  const ruleCache = new Map<string, { at: number; rules: Rule[] }>();
  const keyCache = new Map<string, { at: number; facts: Record<string, unknown> }>();
  const settingsCache = new Map<string, { at: number; settings: Record<string, unknown> }>();
  let rootOrg: string | undefined;
  const wall = () => performance.now();

  const service = createRuleService({ store, clock, onChange: (org) => ruleCache.delete(org) });

  async function rootOrganization(): Promise<string | undefined> {
    if (rootOrg) return rootOrg;
    for (const id of await store.detection.organizationIds()) {
      const org = await store.organizations.get(id);
      if (org?.isRoot) rootOrg = id;
    }
    return rootOrg;
  }

  const context: EngineContext = {
    async rulesFor(organizationId) {
      // Failures with an unknown key belong to no organization ("-"): the root organization's rules watch them.
      const org = organizationId === '-' ? await rootOrganization() : organizationId;
      if (!org) return [];
      const hit = ruleCache.get(org);
      if (hit && wall() - hit.at < CACHE_MS) return hit.rules;
      const rules = await store.rules.enabled(org);
      ruleCache.set(org, { at: wall(), rules });
      return rules;
    },
    async keyInfo(organizationId, keyId) {
      const id = `${organizationId}/${keyId}`;
      const hit = keyCache.get(id);
      if (hit && wall() - hit.at < CACHE_MS * 6) return hit.facts;
      const facts = (await store.detection.keyFacts(organizationId, keyId)) ?? UNKNOWN_KEY;
      if (keyCache.size > 50_000) keyCache.clear();
      keyCache.set(id, { at: wall(), facts });
      return facts;
    },
    async orgSettings(organizationId) {
      const hit = settingsCache.get(organizationId);
      if (hit && wall() - hit.at < CACHE_MS * 6) return hit.settings;
      const settings = (await store.detection.settings(organizationId)) ?? {
        timezone: 'UTC',
        businessStart: 9,
        businessEnd: 18,
        businessDays: [1, 2, 3, 4, 5],
      };
      settingsCache.set(organizationId, { at: wall(), settings });
      return settings;
    },
    async lastSeen(rule, event, field, since) {
      const columns: Record<string, 'ip' | 'actor_id' | 'target_id'> = {
        ip: 'ip',
        'actor.id': 'actor_id',
        'target.id': 'target_id',
      };
      const column = columns[field];
      const groupBy = rule.newValue?.groupBy ?? [];
      const subjectPath = groupBy[0];
      const subjectColumn =
        subjectPath === 'actor.id'
          ? 'actor_id'
          : subjectPath === 'target.id' || subjectPath === 'data.keyId'
            ? 'target_id'
            : undefined;
      if (!column || groupBy.length > 1 || (subjectPath !== undefined && !subjectColumn)) return undefined;
      const value = field === 'ip' ? event.ip : field === 'actor.id' ? event.actor.id : event.target?.id;
      const subject =
        subjectPath === 'actor.id'
          ? event.actor.id
          : subjectPath === 'data.keyId'
            ? (event.data.keyId as string | undefined)
            : event.target?.id;
      if (!value) return undefined;
      return store.detection.lastSeen({
        organizationId: event.organizationId,
        types: rule.on.filter((t) => !t.includes('*')),
        subject: subjectColumn && subject ? { column: subjectColumn, value: subject } : null,
        field: { column, value },
        since,
        beforeSeq: event.seq,
      });
    },
  };

  const engine = createRuleEngine(context);
  const responder = createResponder({ ...deps, onError: deps.onError });

  async function handle(event: StoredEvent): Promise<void> {
    if (event.type === 'organization.created' && event.organizationId !== '-') {
      await service.installDefaults(systemContext, event.organizationId);
    }
    if (event.type.startsWith('api_key.') && event.type !== 'api_key.used') {
      const keyId = typeof event.data.keyId === 'string' ? event.data.keyId : event.target?.id;
      if (keyId) keyCache.delete(`${event.organizationId}/${keyId}`);
    }
    if (event.type.startsWith('rule.') && event.type !== 'rule.triggered')
      ruleCache.delete(event.organizationId);
    for (const firing of await engine.evaluate(event)) {
      try {
        await responder.handle(firing);
      } catch (error) {
        deps.onError?.(error);
      }
    }
  }

  async function warm(cursor: number): Promise<void> {
    const since = new Date(clock.now().getTime() - (deps.warmupMs ?? 3_600_000)).toISOString();
    let after = 0;
    for (;;) {
      const rows = await store.ruleEvents.since(since, after, cursor, 1000);
      for (const e of rows) await engine.evaluate(e, { warm: true });
      if (rows.length < 1000) break;
      after = rows[rows.length - 1]?.seq ?? after;
    }
    const recent = await store.rules.recentFirings(
      new Date(clock.now().getTime() - 7 * 86_400_000).toISOString(),
    );
    for (const f of recent) {
      const rule = (await context.rulesFor(f.organizationId)).find((r) => r.id === f.ruleId);
      if (rule) engine.primeCooldown(rule, f.groupKey, f.firedAt);
    }
    await resumePending();
    // Organizations that existed before rules did get the default detectors once.
    for (const org of await store.detection.organizationIds())
      await service.installDefaults(systemContext, org);
  }

  /** Firings claimed more than two minutes ago but never finished: their actions run now (at least once). */
  async function resumePending(): Promise<void> {
    const before = new Date(clock.now().getTime() - 120_000).toISOString();
    for (const p of await store.rules.pendingFirings(before)) {
      const rule = await store.rules.get(p.organizationId, p.ruleId);
      const lastId = p.eventIds[p.eventIds.length - 1];
      const event = lastId ? await store.ruleEvents.byId(lastId) : undefined;
      if (!rule || !event) {
        await store.rules.finishFiring(p.id, 0, [
          { outcome: 'skipped', reason: 'rule or event gone before the actions ran' },
        ]);
        continue;
      }
      try {
        await responder.resume(
          {
            rule,
            groupKey: p.groupKey,
            group: {},
            count: p.eventIds.length,
            eventIds: p.eventIds,
            event,
            at: event.time,
          },
          p.id,
        );
      } catch (error) {
        deps.onError?.(error);
      }
    }
  }

  const feed: EventFeed = createEventTableFeed({
    store,
    name: 'rules',
    handle,
    onStart: warm,
    clock,
    onError: deps.onError,
  });

  const scheduler = createScheduler({ store, clock, responder, onError: deps.onError });

  return {
    ...service,
    engine,
    /** Evaluates every event written so far and waits for the alerts and webhooks it started. */
    async drain() {
      const handled = await feed.drain();
      await responder.settled();
      return handled;
    },
    start(intervalMs = 500) {
      feed.start(intervalMs);
      scheduler.start();
    },
    async stop() {
      scheduler.stop();
      await feed.stop();
      await responder.settled();
    },
    async runNow(organizationId: string, id: string): Promise<number> {
      const rule = await service.get(organizationId, id);
      if (!rule.schedule)
        throw new AppError('validation_failed', 'Only a scheduled rule can be run on demand', {
          errors: [{ location: '/params/id', message: 'not a scheduled rule' }],
        });
      const fired = await scheduler.runScheduled(rule);
      await responder.settled();
      return fired;
    },

    /** Replays stored events of [from, to) through one rule with fresh state; acts on nothing. */
    async backtest(
      organizationId: string,
      id: string,
      range: { from: string; to: string; limit?: number | undefined },
    ) {
      return backtestRule({ store, context }, await service.get(organizationId, id), range);
    },
  };
}

export type RulesRuntime = ReturnType<typeof createRulesRuntime>;
