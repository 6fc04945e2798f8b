import { createHash } from 'node:crypto';
import type { OutboundHttp } from '../../net/outbound.ts';
import type { Store } from '../../store/store.ts';
import type { AlertService } from '../alerts/service.ts';
import type { ApiKeyService } from '../api-keys/service.ts';
import { buildEvent } from '../audit/events.ts';
import type { IpBlockList } from '../detection/ip-blocks.ts';
import type { Clock } from '../shared/clock.ts';
import { parseDuration } from '../shared/duration.ts';
import type { RequestContext } from '../shared/types.ts';
import type { UserService } from '../users/service.ts';
import { keyIdOf } from './engine.ts';
import { alertFor } from './message.ts';
import { readPath } from './paths.ts';
import type { Firing, RuleAction } from './types.ts';

/**
 * Ends a user's sessions. The session store arrives with the OAuth/login
 * work (issue 4); until then the default records the request and ends none.
 */
export interface SessionTerminator {
  terminateAll(ctx: RequestContext, organizationId: string, userId: string): Promise<number>;
}

export interface ActionResult {
  type: RuleAction['type'];
  outcome: 'done' | 'skipped' | 'failed';
  reason?: string;
  target?: string;
}

const ENFORCING = new Set<RuleAction['type']>([
  'revoke_api_key',
  'disable_user',
  'lock_user',
  'terminate_sessions',
  'block_ip',
]);

function firingId(f: Firing): string {
  const last = f.dedupKey ?? f.eventIds[f.eventIds.length - 1] ?? f.event.id;
  const digest = createHash('sha256').update(`${f.rule.id}\u0000${f.groupKey}\u0000${last}`).digest('hex');
  return `fir_${digest.slice(0, 26)}`;
}

function userIdOf(event: Firing['event']): string | undefined {
  if (event.target?.type === 'user') return event.target.id;
  if (typeof event.data.userId === 'string') return event.data.userId;
  return event.actor.type === 'user' && event.actor.id ? event.actor.id : undefined;
}

/**
 * Acts on a firing exactly once per evidence: the firing row (keyed by rule,
 * group and the event that completed the match) and its `rule.triggered`
 * event commit together, so a replayed event that fires again is recognised
 * and ignored. Enforcing actions run only in `enforce` mode, never against a
 * protected principal (owner key, break-glass user) and at most
 * `maxActionsPerHour` times per rule; each is audited with the rule as actor.
 */
export function createResponder(deps: {
  store: Store;
  clock: Clock;
  apiKeys: ApiKeyService;
  users: UserService;
  alerts: AlertService;
  ipBlocks: IpBlockList;
  http: () => OutboundHttp;
  sessions?: SessionTerminator;
  /** A notification task that failed outside of its own error handling. */
  onError?: ((error: unknown) => void) | undefined;
}) {
  const { store, clock } = deps;
  // Without a session store (unit tests of the engine) there is nothing to end.
  const sessions: SessionTerminator = deps.sessions ?? { terminateAll: async () => 0 };

  /**
   * Notification tasks in flight. Tasks of one rule and group run in order (the alert throttle
   * reads, then writes, its state); tasks of different groups run side by side, at most
   * MAX_NOTIFYING at once, after which the consumer waits for one to finish (backpressure).
   * A process that dies with a task in flight leaves the firing pending: `resume` runs it again.
   */
  const inFlight = new Set<Promise<void>>();
  const tails = new Map<string, Promise<void>>();
  const MAX_NOTIFYING = 16;

  async function enforce(action: RuleAction, f: Firing, ctx: RequestContext): Promise<ActionResult> {
    const org = f.rule.organizationId;
    const target = 'target' in action && action.target ? readPath(f.event, action.target) : undefined;
    switch (action.type) {
      case 'revoke_api_key': {
        const keyId = typeof target === 'string' ? target : keyIdOf(f.event);
        if (!keyId) return { type: action.type, outcome: 'skipped', reason: 'no API key in the event' };
        const key = await store.apiKeys.get(org, keyId);
        if (!key) return { type: action.type, outcome: 'skipped', reason: 'no such key', target: keyId };
        if (key.isOwner)
          return { type: action.type, outcome: 'skipped', reason: 'protected: owner key', target: keyId };
        if (key.status === 'revoked')
          return { type: action.type, outcome: 'skipped', reason: 'already revoked', target: keyId };
        await deps.apiKeys.revoke(ctx, org, keyId, `rule ${f.rule.name} (${f.rule.id})`);
        return { type: action.type, outcome: 'done', target: keyId };
      }
      case 'disable_user':
      case 'lock_user':
      case 'terminate_sessions': {
        const userId = typeof target === 'string' ? target : userIdOf(f.event);
        if (!userId) return { type: action.type, outcome: 'skipped', reason: 'no user in the event' };
        const flags = await store.detection.userFlags(org, userId);
        if (!flags) return { type: action.type, outcome: 'skipped', reason: 'no such user', target: userId };
        if (flags.breakGlass && action.type !== 'terminate_sessions') {
          return {
            type: action.type,
            outcome: 'skipped',
            reason: 'protected: break-glass user',
            target: userId,
          };
        }
        if (action.type === 'disable_user') {
          await deps.users.setStatus(ctx, org, userId, 'disabled');
        } else if (action.type === 'lock_user') {
          const until = new Date(
            clock.now().getTime() + (parseDuration(action.duration) ?? 900_000),
          ).toISOString();
          await store.transaction(async (tx) => {
            await tx.detection.lockUser(org, userId, until, clock.now().toISOString());
            await tx.events.append([
              buildEvent(clock, ctx, {
                organizationId: org,
                type: 'user.locked',
                target: { type: 'user', id: userId },
                data: { userId, until, lockedUntil: until, reason: `rule ${f.rule.name}` },
              }),
            ]);
          });
        } else {
          // Each ended session writes its own session.revoked; this records the action itself, with the rule as actor.
          const count = await sessions.terminateAll(ctx, org, userId);
          await store.events.append([
            buildEvent(clock, ctx, {
              organizationId: org,
              type: 'user.sessions.terminated',
              target: { type: 'user', id: userId },
              data: { userId, count },
            }),
          ]);
        }
        return { type: action.type, outcome: 'done', target: userId };
      }
      case 'block_ip': {
        const ip = typeof target === 'string' ? target : f.event.ip;
        if (!ip) return { type: action.type, outcome: 'skipped', reason: 'no IP in the event' };
        const orgRecord = await store.organizations.get(org);
        await deps.ipBlocks.block(ctx, {
          organizationId: org,
          range: ip,
          untilMs: clock.now().getTime() + (parseDuration(action.duration) ?? 3_600_000),
          reason: `rule ${f.rule.name}`,
          ruleId: f.rule.id,
          global: orgRecord?.isRoot ?? false,
        });
        return { type: action.type, outcome: 'done', target: ip };
      }
      default:
        return { type: action.type, outcome: 'skipped', reason: 'not an enforcing action' };
    }
  }

  async function callWebhook(
    action: Extract<RuleAction, { type: 'webhook' }>,
    f: Firing,
    ctx: RequestContext,
    results: readonly ActionResult[],
  ): Promise<ActionResult> {
    const sent = await deps.alerts.postToWebhook(
      ctx,
      f.rule.organizationId,
      action.channel,
      'rule.triggered',
      {
        ruleId: f.rule.id,
        ruleVersion: f.rule.version,
        ruleName: f.rule.name,
        mode: f.rule.mode,
        count: f.count,
        group: f.group,
        eventIds: f.eventIds,
        ip: f.event.ip,
        actions: results,
      },
    );
    return {
      type: 'webhook',
      outcome: sent.ok ? 'done' : 'failed',
      ...(sent.ok ? {} : { reason: sent.error ?? 'failed' }),
      target: action.channel,
    };
  }

  return {
    firingId,
    async handle(f: Firing): Promise<boolean> {
      const { rule } = f;
      const ctx = ruleContext(f);
      const id = firingId(f);
      const now = clock.now().toISOString();
      const claimed = await store.transaction(async (tx) => {
        const ok = await tx.rules.claimFiring({
          id,
          organizationId: rule.organizationId,
          ruleId: rule.id,
          ruleVersion: rule.version,
          groupKey: f.groupKey,
          firedAt: now,
          eventIds: f.eventIds,
          status: 'pending',
          actionsTaken: 0,
          results: [],
        });
        if (!ok) return false;
        if (f.evidence) await tx.events.append(f.evidence);
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId: rule.organizationId,
            type: 'rule.triggered',
            target: { type: 'rule', id: rule.id },
            data: {
              ruleId: rule.id,
              ruleVersion: rule.version,
              version: rule.version,
              ruleName: rule.name,
              mode: rule.mode,
              firingId: id,
              actions: rule.actions.map((a) => a.type),
              groupKey: f.groupKey,
              group: f.group,
              count: f.count,
              eventIds: f.eventIds,
              ip: f.event.ip,
            },
          }),
        ]);
        return true;
      });
      if (!claimed) return false;
      await waitForRoom();
      await execute(f, id, ctx);
      return true;
    },

    /** Resolves when every notification started so far has finished (tests, shutdown, run-now). */
    async settled(): Promise<void> {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },

    /**
     * Runs the actions of a firing that was claimed but never finished (the
     * process died between the claim and the actions): actions are at least once.
     */
    async resume(f: Firing, id: string): Promise<void> {
      await waitForRoom();
      await execute(f, id, ruleContext(f));
    },
  };

  function ruleContext(f: Firing): RequestContext {
    return {
      actor: { type: 'rule', id: f.rule.id, display: f.rule.name },
      ip: null,
      userAgent: null,
      requestId: null,
    };
  }

  async function execute(f: Firing, id: string, ctx: RequestContext): Promise<void> {
    const { rule } = f;
    const results: ActionResult[] = [];
    let taken = 0;
    let protectedSkip = false;
    const hourAgo = new Date(clock.now().getTime() - 3_600_000).toISOString();
    for (const action of rule.actions.filter((a) => ENFORCING.has(a.type))) {
      if (rule.mode === 'monitor') {
        results.push({ type: action.type, outcome: 'skipped', reason: 'monitor mode' });
        continue;
      }
      const used = (await store.rules.actionsSince(rule.id, hourAgo)) + taken;
      if (used >= rule.maxActionsPerHour) {
        results.push({
          type: action.type,
          outcome: 'skipped',
          reason: `limit of ${rule.maxActionsPerHour} automatic actions per hour reached`,
        });
        continue;
      }
      try {
        const r = await enforce(action, f, ctx);
        if (r.outcome === 'done') taken += 1;
        if (r.reason?.startsWith('protected')) protectedSkip = true;
        results.push(r);
      } catch (error) {
        results.push({
          type: action.type,
          outcome: 'failed',
          reason: (error as Error).message.slice(0, 200),
        });
      }
    }
    const skippedProtected = results.filter((r) => r.reason?.startsWith('protected'));
    if (skippedProtected.length > 0) {
      await store.events.append([
        buildEvent(clock, ctx, {
          organizationId: rule.organizationId,
          type: 'rule.action.skipped',
          target: { type: 'rule', id: rule.id },
          data: { ruleId: rule.id, firingId: id, skipped: skippedProtected },
        }),
      ]);
    }
    // The hourly action limit of the next firing counts these before this one is finished.
    if (taken > 0) await store.rules.recordActionsTaken(id, taken);
    // Alerts and webhook actions talk to the outside world (timeouts of 10-15 s): they run off the
    // event consumer's path, so one slow channel does not delay detection for every organization.
    background(`${rule.id}\u0000${f.groupKey}`, () => notify(f, id, ctx, results, taken, protectedSkip));
  }

  function background(group: string, task: () => Promise<void>): void {
    const previous = tails.get(group) ?? Promise.resolve();
    const run = previous.then(task).catch((error: unknown) => deps.onError?.(error));
    tails.set(group, run);
    inFlight.add(run);
    void run.finally(() => {
      inFlight.delete(run);
      if (tails.get(group) === run) tails.delete(group);
    });
  }

  async function waitForRoom(): Promise<void> {
    while (inFlight.size >= MAX_NOTIFYING) await Promise.race(inFlight);
  }

  async function notify(
    f: Firing,
    id: string,
    ctx: RequestContext,
    results: ActionResult[],
    taken: number,
    protectedSkip: boolean,
  ): Promise<void> {
    const { rule } = f;
    const outcomes = results.map(
      (r) => `${r.type}${r.target ? ` ${r.target}` : ''}: ${r.outcome}${r.reason ? ` (${r.reason})` : ''}`,
    );
    const alerts = rule.actions.filter(
      (a): a is Extract<RuleAction, { type: 'alert' }> => a.type === 'alert',
    );
    // A protected principal is never acted on automatically: the rule alerts instead, even without an alert action.
    const alertActions =
      alerts.length > 0 ? alerts : protectedSkip ? [{ type: 'alert' as const, channels: ['*'] }] : [];
    for (const action of alertActions) {
      const sent = await deps.alerts.notify({
        ctx,
        organizationId: rule.organizationId,
        channelIds: action.channels,
        message: alertFor(f, action.message, outcomes),
        ruleId: rule.id,
        groupKey: f.groupKey,
        throttleMs: 'throttle' in action && action.throttle ? parseDuration(action.throttle) : undefined,
      });
      results.push({
        type: 'alert',
        outcome: sent.every((s) => s.ok) ? 'done' : 'failed',
        reason: `${sent.filter((s) => s.ok && !s.throttled).length} sent, ${sent.filter((s) => s.throttled).length} throttled, ${sent.filter((s) => !s.ok).length} failed`,
      });
    }
    for (const action of rule.actions) {
      if (action.type === 'webhook') results.push(await callWebhook(action, f, ctx, results));
    }
    await store.rules.finishFiring(id, taken, results);
  }
}

export type Responder = ReturnType<typeof createResponder>;
