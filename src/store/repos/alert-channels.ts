import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../schema.ts';
import type { AlertChannelsTable } from '../schema-rules.ts';

export interface AlertChannelRecord {
  id: string;
  organizationId: string;
  name: string;
  type: 'email' | 'sms' | 'slack' | 'pagerduty' | 'webhook';
  enabled: boolean;
  config: Record<string, unknown>;
  /** Sealed with the secret box; never leaves the domain layer. */
  sealedSecrets: string;
  createdAt: string;
  updatedAt: string;
}

function toRecord(r: Selectable<AlertChannelsTable>): AlertChannelRecord {
  return {
    id: r.id,
    organizationId: r.organization_id,
    name: r.name,
    type: r.type as AlertChannelRecord['type'],
    enabled: r.enabled === 1,
    config: JSON.parse(r.config) as Record<string, unknown>,
    sealedSecrets: r.secrets,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function createAlertChannelsRepo(db: Kysely<Database>) {
  return {
    async insert(c: AlertChannelRecord): Promise<void> {
      await db
        .insertInto('alert_channels')
        .values({
          id: c.id,
          organization_id: c.organizationId,
          name: c.name,
          type: c.type,
          enabled: c.enabled ? 1 : 0,
          config: JSON.stringify(c.config),
          secrets: c.sealedSecrets,
          created_at: c.createdAt,
          updated_at: c.updatedAt,
        })
        .execute();
    },
    async update(c: AlertChannelRecord): Promise<void> {
      await db
        .updateTable('alert_channels')
        .set({
          name: c.name,
          enabled: c.enabled ? 1 : 0,
          config: JSON.stringify(c.config),
          secrets: c.sealedSecrets,
          updated_at: c.updatedAt,
        })
        .where('organization_id', '=', c.organizationId)
        .where('id', '=', c.id)
        .execute();
    },
    async delete(organizationId: string, id: string): Promise<void> {
      await db
        .deleteFrom('alert_channels')
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .execute();
    },
    async get(organizationId: string, id: string): Promise<AlertChannelRecord | undefined> {
      const row = await db
        .selectFrom('alert_channels')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? toRecord(row) : undefined;
    },
    async list(organizationId: string): Promise<AlertChannelRecord[]> {
      const rows = await db
        .selectFrom('alert_channels')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .orderBy('id')
        .execute();
      return rows.map(toRecord);
    },
    async throttle(ruleId: string, groupKey: string, channelId: string) {
      const row = await db
        .selectFrom('alert_throttle')
        .selectAll()
        .where('rule_id', '=', ruleId)
        .where('group_key', '=', groupKey)
        .where('channel_id', '=', channelId)
        .executeTakeFirst();
      return row ? { lastSentAt: row.last_sent_at, suppressed: Number(row.suppressed) } : undefined;
    },
    async saveThrottle(
      ruleId: string,
      groupKey: string,
      channelId: string,
      lastSentAt: string,
      suppressed: number,
    ) {
      await db
        .insertInto('alert_throttle')
        .values({
          rule_id: ruleId,
          group_key: groupKey,
          channel_id: channelId,
          last_sent_at: lastSentAt,
          suppressed,
        })
        .onConflict((oc) =>
          oc
            .columns(['rule_id', 'group_key', 'channel_id'])
            .doUpdateSet({ last_sent_at: lastSentAt, suppressed }),
        )
        .execute();
    },
  };
}

export type AlertChannelsRepo = ReturnType<typeof createAlertChannelsRepo>;
