import type { Kysely, Selectable } from 'kysely';
import type { Rule, RuleDefinition } from '../../domain/rules/types.ts';
import type { Database } from '../schema.ts';
import type { RulesTable } from '../schema-rules.ts';
import { createEventsRepo, type StoredEvent, toStoredEvent } from './events.ts';

export interface FiringRecord {
  id: string;
  organizationId: string;
  ruleId: string;
  ruleVersion: number;
  groupKey: string;
  firedAt: string;
  eventIds: string[];
  status: 'pending' | 'done';
  actionsTaken: number;
  results: unknown[];
}

type Stored = Omit<RuleDefinition, 'name' | 'enabled' | 'mode'>;

function toRule(row: Selectable<RulesTable>): Rule {
  const def = JSON.parse(row.definition) as Stored;
  return {
    ...def,
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    enabled: row.enabled === 1,
    mode: row.mode,
    version: Number(row.version),
    template: row.template,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toRow(rule: Rule): Selectable<RulesTable> {
  const { id, organizationId, name, enabled, mode, version, template, createdAt, updatedAt, ...rest } = rule;
  return {
    id,
    organization_id: organizationId,
    name,
    enabled: enabled ? 1 : 0,
    mode,
    version,
    template,
    definition: JSON.stringify(rest),
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

export function createRulesRepo(db: Kysely<Database>) {
  return {
    async insert(rule: Rule): Promise<void> {
      await db.insertInto('rules').values(toRow(rule)).execute();
    },
    async update(rule: Rule): Promise<void> {
      const { id, organization_id, ...rest } = toRow(rule);
      await db
        .updateTable('rules')
        .set(rest)
        .where('organization_id', '=', organization_id)
        .where('id', '=', id)
        .execute();
    },
    async delete(organizationId: string, id: string): Promise<void> {
      await db
        .deleteFrom('rules')
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .execute();
    },
    async get(organizationId: string, id: string): Promise<Rule | undefined> {
      const row = await db
        .selectFrom('rules')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? toRule(row) : undefined;
    },
    async list(
      organizationId: string,
      filter: { afterId?: string | undefined; limit: number },
    ): Promise<Rule[]> {
      let q = db.selectFrom('rules').selectAll().where('organization_id', '=', organizationId);
      if (filter.afterId !== undefined) q = q.where('id', '>', filter.afterId);
      return (await q.orderBy('id').limit(filter.limit).execute()).map(toRule);
    },
    async enabled(organizationId: string): Promise<Rule[]> {
      const rows = await db
        .selectFrom('rules')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('enabled', '=', 1)
        .orderBy('id')
        .execute();
      return rows.map(toRule);
    },
    /** Enabled rules with a cron schedule, every organization. */
    async scheduled(): Promise<Rule[]> {
      const rows = await db.selectFrom('rules').selectAll().where('enabled', '=', 1).orderBy('id').execute();
      return rows.map(toRule).filter((r) => r.schedule !== null);
    },
    async templatesOf(organizationId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('rules')
        .select('template')
        .where('organization_id', '=', organizationId)
        .where('template', 'is not', null)
        .execute();
      return rows.map((r) => r.template as string);
    },
    async addVersion(rule: Rule, actor: { type: string; id: string | null }, at: string): Promise<void> {
      await db
        .insertInto('rule_versions')
        .values({
          rule_id: rule.id,
          version: rule.version,
          organization_id: rule.organizationId,
          snapshot: JSON.stringify(rule),
          created_at: at,
          actor_type: actor.type,
          actor_id: actor.id,
        })
        .execute();
    },
    async versions(
      organizationId: string,
      ruleId: string,
    ): Promise<
      Array<{ version: number; createdAt: string; actor: { type: string; id: string | null }; rule: Rule }>
    > {
      const rows = await db
        .selectFrom('rule_versions')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('rule_id', '=', ruleId)
        .orderBy('version', 'desc')
        .execute();
      return rows.map((r) => ({
        version: Number(r.version),
        createdAt: r.created_at,
        actor: { type: r.actor_type, id: r.actor_id },
        rule: JSON.parse(r.snapshot) as Rule,
      }));
    },

    /** Records a firing; false when a firing with this id exists (the same evidence was already acted on). */
    async claimFiring(f: FiringRecord): Promise<boolean> {
      const result = await db
        .insertInto('rule_firings')
        .values({
          id: f.id,
          organization_id: f.organizationId,
          rule_id: f.ruleId,
          rule_version: f.ruleVersion,
          group_key: f.groupKey,
          fired_at: f.firedAt,
          event_ids: JSON.stringify(f.eventIds),
          status: f.status,
          actions_taken: f.actionsTaken,
          results: JSON.stringify(f.results),
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    },
    /** Firings claimed before `before` whose actions never finished (the process died in between). */
    async pendingFirings(
      before: string,
    ): Promise<
      Array<{ id: string; organizationId: string; ruleId: string; groupKey: string; eventIds: string[] }>
    > {
      const rows = await db
        .selectFrom('rule_firings')
        .select(['id', 'organization_id', 'rule_id', 'group_key', 'event_ids'])
        .where('status', '=', 'pending')
        .where('fired_at', '<', before)
        .orderBy('fired_at')
        .limit(1000)
        .execute();
      return rows.map((r) => ({
        id: r.id,
        organizationId: r.organization_id,
        ruleId: r.rule_id,
        groupKey: r.group_key,
        eventIds: JSON.parse(r.event_ids) as string[],
      }));
    },
    async finishFiring(id: string, actionsTaken: number, results: unknown[]): Promise<void> {
      await db
        .updateTable('rule_firings')
        .set({ status: 'done', actions_taken: actionsTaken, results: JSON.stringify(results) })
        .where('id', '=', id)
        .execute();
    },
    /** Counts a firing's enforcing actions before it is finished (its notifications run later). */
    async recordActionsTaken(id: string, actionsTaken: number): Promise<void> {
      await db
        .updateTable('rule_firings')
        .set({ actions_taken: actionsTaken })
        .where('id', '=', id)
        .execute();
    },
    async actionsSince(ruleId: string, since: string): Promise<number> {
      const row = await db
        .selectFrom('rule_firings')
        .select((eb) => eb.fn.sum<number>('actions_taken').as('n'))
        .where('rule_id', '=', ruleId)
        .where('fired_at', '>=', since)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },
    async firings(organizationId: string, ruleId: string, limit: number): Promise<FiringRecord[]> {
      const rows = await db
        .selectFrom('rule_firings')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('rule_id', '=', ruleId)
        .orderBy('fired_at', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        id: r.id,
        organizationId: r.organization_id,
        ruleId: r.rule_id,
        ruleVersion: Number(r.rule_version),
        groupKey: r.group_key,
        firedAt: r.fired_at,
        eventIds: JSON.parse(r.event_ids) as string[],
        status: r.status,
        actionsTaken: Number(r.actions_taken),
        results: JSON.parse(r.results) as unknown[],
      }));
    },
    /** Latest firing per rule and group since `since`, to restore cooldowns after a restart. */
    async recentFirings(
      since: string,
    ): Promise<Array<{ ruleId: string; organizationId: string; groupKey: string; firedAt: string }>> {
      const rows = await db
        .selectFrom('rule_firings')
        .select(['rule_id', 'organization_id', 'group_key', 'fired_at'])
        .where('fired_at', '>=', since)
        .orderBy('fired_at')
        .execute();
      return rows.map((r) => ({
        ruleId: r.rule_id,
        organizationId: r.organization_id,
        groupKey: r.group_key,
        firedAt: r.fired_at,
      }));
    },

    async lastFiring(ruleId: string, groupKey: string): Promise<string | undefined> {
      const row = await db
        .selectFrom('rule_firings')
        .select('fired_at')
        .where('rule_id', '=', ruleId)
        .where('group_key', '=', groupKey)
        .orderBy('fired_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row?.fired_at;
    },
    async cursor(name: string): Promise<number | undefined> {
      const row = await db
        .selectFrom('rule_cursors')
        .select('seq')
        .where('name', '=', name)
        .executeTakeFirst();
      return row ? Number(row.seq) : undefined;
    },
    async saveCursor(name: string, seq: number, at: string): Promise<void> {
      await db
        .insertInto('rule_cursors')
        .values({ name, seq, updated_at: at })
        .onConflict((oc) => oc.column('name').doUpdateSet({ seq, updated_at: at }))
        .execute();
    },
  };
}

export type RulesRepo = ReturnType<typeof createRulesRepo>;

/** Event reads of the rule consumer, warm-up and backtest (all in commit or time order). */
export function createRuleEventsRepo(db: Kysely<Database>) {
  return {
    /** Events in commit order after `afterSeq` (the consumer's read). */
    afterSeq: createEventsRepo(db).afterSeq,
    async byId(id: string): Promise<StoredEvent | undefined> {
      const row = await db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toStoredEvent(row) : undefined;
    },
    async bySeqs(seqs: readonly number[]): Promise<StoredEvent[]> {
      if (seqs.length === 0) return [];
      const rows = await db
        .selectFrom('events')
        .selectAll()
        .where('seq', 'in', [...seqs])
        .orderBy('seq')
        .execute();
      return rows.map(toStoredEvent);
    },
    async maxSeq(): Promise<number> {
      const row = await db
        .selectFrom('events')
        .select((eb) => eb.fn.max('seq').as('m'))
        .executeTakeFirst();
      return Number(row?.m ?? 0);
    },
    /** Events at or after `since` up to `maxSeq`, for rebuilding windows after a restart. */
    async since(sinceTime: string, afterSeq: number, maxSeq: number, limit: number): Promise<StoredEvent[]> {
      const rows = await db
        .selectFrom('events')
        .selectAll()
        .where('seq', '>', afterSeq)
        .where('seq', '<=', maxSeq)
        .where('time', '>=', sinceTime)
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map(toStoredEvent);
    },
    /** One organization's events in [from, to), oldest first, keyset-paged on (time, seq). */
    async between(
      organizationIds: readonly string[],
      from: string,
      to: string,
      after: { time: string; seq: number } | undefined,
      limit: number,
    ): Promise<StoredEvent[]> {
      let q = db
        .selectFrom('events')
        .selectAll()
        .where('organization_id', 'in', [...organizationIds])
        .where('time', '>=', from)
        .where('time', '<', to);
      if (after) {
        q = q.where((eb) =>
          eb.or([
            eb('time', '>', after.time),
            eb.and([eb('time', '=', after.time), eb('seq', '>', after.seq)]),
          ]),
        );
      }
      const rows = await q.orderBy('time').orderBy('seq').limit(limit).execute();
      return rows.map(toStoredEvent);
    },
  };
}
