import { Cron } from 'croner';
import { newId } from '../../crypto/ids.ts';
import { AppError, type FieldError } from '../../errors/app-error.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import { parseDuration } from '../shared/duration.ts';
import { decodeCursor, encodeCursor, type Page, type RequestContext } from '../shared/types.ts';
import { compileCondition } from './condition.ts';
import { findTemplate, RULE_TEMPLATES } from './templates.ts';
import type { Rule, RuleDefinition } from './types.ts';

export type RuleInput = Partial<RuleDefinition> & Pick<RuleDefinition, 'name'>;

const DEFAULTS: Omit<RuleDefinition, 'name'> = {
  description: null,
  enabled: true,
  mode: 'enforce',
  severity: 'warning',
  on: [],
  condition: null,
  threshold: null,
  newValue: null,
  schedule: null,
  check: null,
  cooldown: null,
  maxActionsPerHour: 10,
  actions: [],
};

function durationError(location: string, value: string | null | undefined, errors: FieldError[]) {
  if (value === null || value === undefined) return;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0)
    errors.push({ location, message: 'must be a duration such as "60s", "5m", "1h" or "30d"' });
}

/** Checks what JSON schema cannot: the condition compiles, durations parse, the shape is coherent. */
export function validateDefinition(def: RuleDefinition): void {
  if (def.condition) compileCondition(def.condition);
  const errors: FieldError[] = [];
  if (def.schedule !== null) {
    try {
      new Cron(def.schedule, { paused: true }).stop();
    } catch (error) {
      errors.push({
        location: '/body/schedule',
        message: `not a cron expression: ${(error as Error).message}`,
      });
    }
    if (!def.check) errors.push({ location: '/body/check', message: 'a scheduled rule needs a check' });
  } else if (def.on.length === 0) {
    errors.push({ location: '/body/on', message: 'name at least one event type (or give a schedule)' });
  }
  if (def.threshold) {
    durationError('/body/threshold/window', def.threshold.window, errors);
    if (def.threshold.baseline)
      durationError('/body/threshold/baseline/history', def.threshold.baseline.history, errors);
  }
  if (def.newValue) durationError('/body/newValue/lookback', def.newValue.lookback, errors);
  if (def.threshold && def.newValue)
    errors.push({ location: '/body/newValue', message: 'use threshold or newValue, not both' });
  durationError('/body/cooldown', def.cooldown, errors);
  def.actions.forEach((a, i) => {
    if (a.type === 'lock_user' || a.type === 'block_ip')
      durationError(`/body/actions/${i}/duration`, a.duration, errors);
  });
  if (errors.length > 0)
    throw new AppError('validation_failed', errors.map((e) => `${e.location} ${e.message}`).join('; '), {
      errors,
    });
}

/** Rules CRUD: every change is a new version in `rule_versions` and an audited `rule.*` event. */
export function createRuleService(deps: {
  store: Store;
  clock: Clock;
  onChange: (organizationId: string) => void;
}) {
  const { store, clock } = deps;

  async function mustGet(organizationId: string, id: string): Promise<Rule> {
    const rule = await store.rules.get(organizationId, id);
    if (!rule) throw new AppError('not_found');
    return rule;
  }

  async function save(
    ctx: RequestContext,
    rule: Rule,
    type: 'rule.created' | 'rule.updated',
    isNew: boolean,
    tx?: Store,
  ) {
    const write = async (t: Store) => {
      if (isNew) await t.rules.insert(rule);
      else await t.rules.update(rule);
      await t.rules.addVersion(rule, { type: ctx.actor.type, id: ctx.actor.id }, rule.updatedAt);
      await t.events.append([
        buildEvent(clock, ctx, {
          organizationId: rule.organizationId,
          type,
          target: { type: 'rule', id: rule.id },
          data: {
            ruleId: rule.id,
            name: rule.name,
            version: rule.version,
            mode: rule.mode,
            enabled: rule.enabled,
            template: rule.template,
          },
        }),
      ]);
    };
    if (tx) await write(tx);
    else await store.transaction(write);
    deps.onChange(rule.organizationId);
  }

  /** Alert and webhook actions must name channels of this organization (a webhook action: a webhook channel). */
  async function checkChannels(organizationId: string, def: RuleDefinition): Promise<void> {
    const channels = new Map((await store.alertChannels.list(organizationId)).map((c) => [c.id, c.type]));
    const errors: FieldError[] = [];
    def.actions.forEach((a, i) => {
      if (a.type === 'alert') {
        a.channels.forEach((id, j) => {
          if (id !== '*' && !channels.has(id))
            errors.push({ location: `/body/actions/${i}/channels/${j}`, message: 'no such alert channel' });
        });
      }
      if (a.type === 'webhook' && channels.get(a.channel) !== 'webhook') {
        errors.push({
          location: `/body/actions/${i}/channel`,
          message: 'not a webhook channel of this organization',
        });
      }
    });
    if (errors.length > 0)
      throw new AppError('validation_failed', 'An action names an unknown channel', { errors });
  }

  function build(organizationId: string, def: RuleDefinition, template: string | null): Rule {
    const now = clock.now().toISOString();
    return {
      ...def,
      id: newId('rul', clock.now().getTime()),
      organizationId,
      version: 1,
      template,
      createdAt: now,
      updatedAt: now,
    };
  }

  async function installWithin(
    tx: Store,
    ctx: RequestContext,
    organizationId: string,
    ids: readonly string[],
  ): Promise<Rule[]> {
    const existing = new Set(await tx.rules.templatesOf(organizationId));
    const out: Rule[] = [];
    for (const id of ids) {
      const template = findTemplate(id);
      if (!template || existing.has(id)) continue;
      const rule = build(organizationId, structuredClone(template.definition), id);
      await save(ctx, rule, 'rule.created', true, tx);
      out.push(rule);
    }
    return out;
  }

  return {
    async create(ctx: RequestContext, organizationId: string, input: RuleInput): Promise<Rule> {
      const def: RuleDefinition = { ...DEFAULTS, ...stripUndefined(input) };
      validateDefinition(def);
      await checkChannels(organizationId, def);
      const rule = build(organizationId, def, null);
      await save(ctx, rule, 'rule.created', true);
      return rule;
    },

    get: mustGet,

    async list(
      organizationId: string,
      query: { cursor?: string | undefined; limit: number },
    ): Promise<Page<Rule>> {
      let afterId: string | undefined;
      if (query.cursor !== undefined) {
        const parts = decodeCursor(query.cursor, 1);
        if (!parts) throw new AppError('invalid_cursor');
        afterId = parts[0];
      }
      const rows = await store.rules.list(organizationId, { afterId, limit: query.limit + 1 });
      const data = rows.slice(0, query.limit);
      const last = data[data.length - 1];
      return { data, nextCursor: rows.length > query.limit && last ? encodeCursor([last.id]) : null };
    },

    async update(
      ctx: RequestContext,
      organizationId: string,
      id: string,
      patch: Partial<RuleDefinition>,
    ): Promise<Rule> {
      const before = await mustGet(organizationId, id);
      const after: Rule = {
        ...before,
        ...stripUndefined(patch),
        version: before.version + 1,
        updatedAt: clock.now().toISOString(),
      };
      validateDefinition(after);
      await checkChannels(organizationId, after);
      await save(ctx, after, 'rule.updated', false);
      return after;
    },

    async delete(ctx: RequestContext, organizationId: string, id: string): Promise<void> {
      const rule = await mustGet(organizationId, id);
      await store.transaction(async (tx) => {
        await tx.rules.delete(organizationId, id);
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'rule.deleted',
            target: { type: 'rule', id },
            data: { ruleId: id, name: rule.name, version: rule.version },
          }),
        ]);
      });
      deps.onChange(organizationId);
    },

    async versions(organizationId: string, id: string) {
      await mustGet(organizationId, id);
      return store.rules.versions(organizationId, id);
    },

    async firings(organizationId: string, id: string, limit: number) {
      await mustGet(organizationId, id);
      return store.rules.firings(organizationId, id, limit);
    },

    templates: () => RULE_TEMPLATES,

    /** Installs templates (all when `ids` is empty) not yet installed in the organization. */
    async install(ctx: RequestContext, organizationId: string, ids: readonly string[]): Promise<Rule[]> {
      for (const id of ids) if (!findTemplate(id)) throw new AppError('not_found', `No rule template ${id}`);
      const wanted = ids.length > 0 ? ids : RULE_TEMPLATES.map((t) => t.id);
      const out = await store.transaction((tx) => installWithin(tx, ctx, organizationId, wanted));
      deps.onChange(organizationId);
      return out;
    },

    /** The default detectors of a new organization (monitor mode); a no-op when any template is installed. */
    async installDefaults(ctx: RequestContext, organizationId: string): Promise<number> {
      const org = await store.organizations.get(organizationId);
      if (!org) return 0;
      if ((await store.rules.templatesOf(organizationId)).length > 0) return 0;
      const out = await store.transaction((tx) =>
        installWithin(
          tx,
          ctx,
          organizationId,
          RULE_TEMPLATES.map((t) => t.id),
        ),
      );
      deps.onChange(organizationId);
      return out.length;
    },
  };
}

export type RuleService = ReturnType<typeof createRuleService>;

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
