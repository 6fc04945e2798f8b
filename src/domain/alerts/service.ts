import { randomBytes } from 'node:crypto';
import { newId } from '../../crypto/ids.ts';
import type { SecretBox } from '../../crypto/secret-box.ts';
import { AppError } from '../../errors/app-error.ts';
import type { OutboundHttp } from '../../net/outbound.ts';
import type { AlertChannelRecord } from '../../store/repos/alert-channels.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';
import { type AlertMessage, type ChannelType, REQUIRED_FIELDS, SECRET_FIELDS } from './channel-types.ts';
import { type SendResult, sendSignedWebhook, sendToChannel } from './senders.ts';

export interface AlertChannelView {
  id: string;
  organizationId: string;
  name: string;
  type: ChannelType;
  enabled: boolean;
  settings: Record<string, unknown>;
  /** Names of the secret settings that are set (values are never returned). */
  secretsSet: string[];
  createdAt: string;
  updatedAt: string;
}

export interface ChannelInput {
  name: string;
  type: ChannelType;
  enabled?: boolean | undefined;
  settings: Record<string, unknown>;
}

/** Repeats for one rule and group are held back this long per channel, then summarised. */
const DEFAULT_THROTTLE_MS = 5 * 60_000;

export function createAlertService(deps: {
  store: Store;
  clock: Clock;
  secretBox: SecretBox;
  http: () => OutboundHttp;
}) {
  const { store, clock, secretBox } = deps;

  const senderDeps = () => ({ http: deps.http(), now: () => clock.now() });

  /** A send that throws (a refused URL, a timeout) is a failed result with a short reason, never an exception. */
  async function settle(send: () => Promise<SendResult>): Promise<SendResult> {
    try {
      return await send();
    } catch (error) {
      return { ok: false, error: (error as Error).message.slice(0, 300) };
    }
  }
  const context = (id: string) => `alert-channel:${id}`;

  function view(r: AlertChannelRecord): AlertChannelView {
    const secrets = JSON.parse(secretBox.open(r.sealedSecrets, context(r.id))) as Record<string, string>;
    return {
      id: r.id,
      organizationId: r.organizationId,
      name: r.name,
      type: r.type,
      enabled: r.enabled,
      settings: r.config,
      secretsSet: Object.keys(secrets).sort(),
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    };
  }

  function split(type: ChannelType, settings: Record<string, unknown>, previous: Record<string, string>) {
    const clear: Record<string, unknown> = {};
    const secrets: Record<string, string> = { ...previous };
    for (const [k, v] of Object.entries(settings)) {
      if (SECRET_FIELDS[type].includes(k)) {
        if (typeof v === 'string' && v.length > 0) secrets[k] = v;
      } else clear[k] = v;
    }
    const missing = REQUIRED_FIELDS[type].filter((f) => clear[f] === undefined && secrets[f] === undefined);
    if (missing.length > 0) {
      throw new AppError('validation_failed', `A ${type} channel needs ${missing.join(', ')}`, {
        errors: missing.map((f) => ({ location: `/body/settings/${f}`, message: 'is required' })),
      });
    }
    return { clear, secrets };
  }

  async function checkUrls(
    type: ChannelType,
    clear: Record<string, unknown>,
    secrets: Record<string, string>,
  ) {
    const urls: string[] = [];
    if (type === 'slack' && secrets.url) urls.push(secrets.url);
    if (type === 'webhook' && typeof clear.url === 'string') urls.push(clear.url);
    if (type === 'pagerduty' && typeof clear.url === 'string') urls.push(clear.url);
    if (type === 'sms' && typeof clear.baseUrl === 'string') urls.push(clear.baseUrl);
    if (type === 'email' && typeof clear.host === 'string') {
      try {
        await deps.http().resolveAllowed(clear.host);
      } catch (error) {
        throw new AppError('validation_failed', `The SMTP host is not allowed: ${(error as Error).message}`, {
          errors: [{ location: '/body/settings/host', message: 'host refused by the outbound guard' }],
        });
      }
    }
    for (const url of urls) {
      try {
        await deps.http().assertAllowed(url);
      } catch (error) {
        throw new AppError(
          'validation_failed',
          `The channel URL is not allowed: ${(error as Error).message}`,
          {
            errors: [{ location: '/body/settings', message: 'URL refused by the outbound guard' }],
          },
        );
      }
    }
  }

  async function mustGet(organizationId: string, id: string): Promise<AlertChannelRecord> {
    const r = await store.alertChannels.get(organizationId, id);
    if (!r) throw new AppError('not_found');
    return r;
  }

  function secretsOf(r: AlertChannelRecord): Record<string, string> {
    return JSON.parse(secretBox.open(r.sealedSecrets, context(r.id))) as Record<string, string>;
  }

  async function deliver(
    r: AlertChannelRecord,
    message: AlertMessage,
    ctx: RequestContext,
    extra: Record<string, unknown>,
  ): Promise<SendResult> {
    const result = await settle(() =>
      sendToChannel({ type: r.type, settings: r.config, secrets: secretsOf(r) }, message, senderDeps()),
    );
    await store.events.append([
      buildEvent(clock, ctx, {
        organizationId: r.organizationId,
        type: result.ok ? 'alert.sent' : 'alert.failed',
        outcome: result.ok ? 'success' : 'failure',
        target: { type: 'alert_channel', id: r.id },
        data: {
          channelId: r.id,
          channelType: r.type,
          subject: message.subject,
          dedupKey: message.dedupKey,
          ...(result.status !== undefined ? { status: result.status } : {}),
          ...(result.error ? { error: result.error } : {}),
          ...extra,
        },
      }),
    ]);
    return result;
  }

  return {
    view,

    async create(
      ctx: RequestContext,
      organizationId: string,
      input: ChannelInput,
    ): Promise<{ channel: AlertChannelView; secret?: string }> {
      const now = clock.now().toISOString();
      const id = newId('ach', clock.now().getTime());
      let generated: string | undefined;
      const settings = { ...input.settings };
      if (input.type === 'webhook' && typeof settings.secret !== 'string') {
        generated = `whsec_${randomBytes(24).toString('base64')}`;
        settings.secret = generated;
      }
      const { clear, secrets } = split(input.type, settings, {});
      await checkUrls(input.type, clear, secrets);
      const record: AlertChannelRecord = {
        id,
        organizationId,
        name: input.name,
        type: input.type,
        enabled: input.enabled ?? true,
        config: clear,
        sealedSecrets: secretBox.seal(JSON.stringify(secrets), context(id)),
        createdAt: now,
        updatedAt: now,
      };
      await store.transaction(async (tx) => {
        await tx.alertChannels.insert(record);
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'alert_channel.created',
            target: { type: 'alert_channel', id },
            data: { name: record.name, type: record.type },
          }),
        ]);
      });
      return { channel: view(record), ...(generated ? { secret: generated } : {}) };
    },

    async list(organizationId: string): Promise<AlertChannelView[]> {
      return (await store.alertChannels.list(organizationId)).map(view);
    },

    async get(organizationId: string, id: string): Promise<AlertChannelView> {
      return view(await mustGet(organizationId, id));
    },

    async update(
      ctx: RequestContext,
      organizationId: string,
      id: string,
      patch: {
        name?: string | undefined;
        enabled?: boolean | undefined;
        settings?: Record<string, unknown> | undefined;
      },
    ): Promise<AlertChannelView> {
      const before = await mustGet(organizationId, id);
      let config = before.config;
      let sealed = before.sealedSecrets;
      if (patch.settings) {
        const { clear, secrets } = split(
          before.type,
          { ...before.config, ...patch.settings },
          secretsOf(before),
        );
        await checkUrls(before.type, clear, secrets);
        config = clear;
        sealed = secretBox.seal(JSON.stringify(secrets), context(id));
      }
      const after: AlertChannelRecord = {
        ...before,
        name: patch.name ?? before.name,
        enabled: patch.enabled ?? before.enabled,
        config,
        sealedSecrets: sealed,
        updatedAt: clock.now().toISOString(),
      };
      await store.transaction(async (tx) => {
        await tx.alertChannels.update(after);
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'alert_channel.updated',
            target: { type: 'alert_channel', id },
            data: { changes: Object.keys(patch), settings: Object.keys(patch.settings ?? {}) },
          }),
        ]);
      });
      return view(after);
    },

    async delete(ctx: RequestContext, organizationId: string, id: string): Promise<void> {
      const r = await mustGet(organizationId, id);
      await store.transaction(async (tx) => {
        await tx.alertChannels.delete(organizationId, id);
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'alert_channel.deleted',
            target: { type: 'alert_channel', id },
            data: { name: r.name, type: r.type },
          }),
        ]);
      });
    },

    /** Sends a test alert now, unthrottled; the outcome is an `alert.sent` or `alert.failed` event. */
    async testSend(ctx: RequestContext, organizationId: string, id: string): Promise<SendResult> {
      const r = await mustGet(organizationId, id);
      return deliver(
        r,
        {
          subject: `[Latchkey] Test alert for channel "${r.name}"`,
          text: `This is a test alert sent by Latchkey at ${clock.now().toISOString()} to check the channel "${r.name}" (${r.type}).`,
          severity: 'info',
          dedupKey: `latchkey-test-${r.id}`,
          details: { test: true },
        },
        ctx,
        { test: true },
      );
    },

    /**
     * Posts a machine-readable payload (a rule's `rule.triggered`) to a webhook
     * channel, signed with the channel's secret; recorded as `rule.webhook.sent`
     * or `rule.webhook.failed`.
     */
    async postToWebhook(
      ctx: RequestContext,
      organizationId: string,
      channelId: string,
      type: string,
      data: Record<string, unknown>,
    ): Promise<SendResult> {
      const r = await store.alertChannels.get(organizationId, channelId);
      let result: SendResult;
      if (r?.type !== 'webhook' || !r.enabled) {
        result = { ok: false, error: 'no enabled webhook channel with this id' };
      } else {
        result = await settle(() =>
          sendSignedWebhook(String(r.config.url), secretsOf(r).secret ?? '', type, data, senderDeps()),
        );
      }
      await store.events.append([
        buildEvent(clock, ctx, {
          organizationId,
          type: result.ok ? 'rule.webhook.sent' : 'rule.webhook.failed',
          outcome: result.ok ? 'success' : 'failure',
          target: { type: 'alert_channel', id: channelId },
          data: {
            channelId,
            eventType: type,
            ...(result.status !== undefined ? { status: result.status } : {}),
            ...(result.error ? { error: result.error } : {}),
          },
        }),
      ]);
      return result;
    },

    /**
     * Sends a rule's alert to its channels (`*` or an empty list: every enabled
     * channel). Per channel, repeats for the same rule and group within the
     * throttle window are counted instead of sent; the next alert that goes
     * out says how many were held back.
     */
    async notify(input: {
      ctx: RequestContext;
      organizationId: string;
      channelIds: readonly string[];
      message: AlertMessage;
      ruleId: string;
      groupKey: string;
      throttleMs?: number | undefined;
    }): Promise<Array<{ channelId: string; ok: boolean; throttled?: boolean; error?: string }>> {
      const all = await store.alertChannels.list(input.organizationId);
      const wanted =
        input.channelIds.length === 0 || input.channelIds.includes('*')
          ? all.filter((c) => c.enabled)
          : all.filter((c) => c.enabled && input.channelIds.includes(c.id));
      const throttleMs = input.throttleMs ?? DEFAULT_THROTTLE_MS;
      const now = clock.now();
      const out: Array<{ channelId: string; ok: boolean; throttled?: boolean; error?: string }> = [];
      for (const channel of wanted) {
        const state = await store.alertChannels.throttle(input.ruleId, input.groupKey, channel.id);
        if (state && Date.parse(state.lastSentAt) + throttleMs > now.getTime()) {
          await store.alertChannels.saveThrottle(
            input.ruleId,
            input.groupKey,
            channel.id,
            state.lastSentAt,
            state.suppressed + 1,
          );
          out.push({ channelId: channel.id, ok: true, throttled: true });
          continue;
        }
        const suppressed = state?.suppressed ?? 0;
        const message =
          suppressed > 0
            ? {
                ...input.message,
                text: `${input.message.text}\n\n${suppressed} similar alert(s) for this rule and group were held back since ${state?.lastSentAt}.`,
                details: { ...input.message.details, suppressed },
              }
            : input.message;
        await store.alertChannels.saveThrottle(
          input.ruleId,
          input.groupKey,
          channel.id,
          now.toISOString(),
          0,
        );
        const result = await deliver(channel, message, input.ctx, { ruleId: input.ruleId, suppressed });
        out.push({ channelId: channel.id, ok: result.ok, ...(result.error ? { error: result.error } : {}) });
      }
      return out;
    },
  };
}

export type AlertService = ReturnType<typeof createAlertService>;
