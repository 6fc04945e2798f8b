import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

export interface IpBlock {
  id: string;
  organizationId: string;
  range: string;
  /** Blocks made by the root organization apply to every request; others only under that organization. */
  global: boolean;
  until: string;
  reason: string | null;
  ruleId: string | null;
  createdAt: string;
}

/** Storage of issue 6's flags and blocks: locks, break-glass, decoy keys, IP blocks, detection settings. */
export function createDetectionRepo(db: Kysely<Database>) {
  return {
    async insertBlock(b: IpBlock): Promise<void> {
      await db
        .insertInto('ip_blocks')
        .values({
          id: b.id,
          organization_id: b.organizationId,
          range: b.range,
          global: b.global ? 1 : 0,
          until: b.until,
          reason: b.reason,
          rule_id: b.ruleId,
          created_at: b.createdAt,
        })
        .execute();
    },
    async activeBlocks(now: string): Promise<IpBlock[]> {
      const rows = await db
        .selectFrom('ip_blocks')
        .selectAll()
        .where('until', '>', now)
        .orderBy('id')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        organizationId: r.organization_id,
        range: r.range,
        global: r.global === 1,
        until: r.until,
        reason: r.reason,
        ruleId: r.rule_id,
        createdAt: r.created_at,
      }));
    },
    async deleteBlock(organizationId: string, id: string): Promise<boolean> {
      const r = await db
        .deleteFrom('ip_blocks')
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async userFlags(
      organizationId: string,
      userId: string,
    ): Promise<{ lockedUntil: string | null; breakGlass: boolean; status: string } | undefined> {
      const row = await db
        .selectFrom('users')
        .select(['locked_until', 'break_glass', 'status'])
        .where('organization_id', '=', organizationId)
        .where('id', '=', userId)
        .executeTakeFirst();
      return row
        ? { lockedUntil: row.locked_until ?? null, breakGlass: row.break_glass === 1, status: row.status }
        : undefined;
    },
    async lockUser(organizationId: string, userId: string, until: string | null, at: string): Promise<void> {
      await db
        .updateTable('users')
        .set({ locked_until: until, updated_at: at })
        .where('organization_id', '=', organizationId)
        .where('id', '=', userId)
        .execute();
    },
    async setBreakGlass(organizationId: string, userId: string, value: boolean): Promise<boolean> {
      const r = await db
        .updateTable('users')
        .set({ break_glass: value ? 1 : 0 })
        .where('organization_id', '=', organizationId)
        .where('id', '=', userId)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async setDecoy(organizationId: string, keyId: string, value: boolean): Promise<boolean> {
      const r = await db
        .updateTable('api_keys')
        .set({ is_decoy: value ? 1 : 0 })
        .where('organization_id', '=', organizationId)
        .where('id', '=', keyId)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async keyFacts(organizationId: string, keyId: string): Promise<Record<string, unknown> | undefined> {
      const row = await db
        .selectFrom('api_keys')
        .select([
          'id',
          'name',
          'scope',
          'is_owner',
          'is_decoy',
          'status',
          'expires_at',
          'created_at',
          'permissions',
        ])
        .where('organization_id', '=', organizationId)
        .where('id', '=', keyId)
        .executeTakeFirst();
      if (!row) return undefined;
      const permissions = JSON.parse(row.permissions) as string[];
      return {
        id: row.id,
        name: row.name,
        scope: row.scope ?? (permissions.every((p) => p.endsWith(':read')) ? 'read-only' : 'custom'),
        owner: row.is_owner === 1,
        decoy: row.is_decoy === 1,
        status: row.status,
        expiresAt: row.expires_at ?? '',
        createdAt: row.created_at,
        readOnly: permissions.every((p) => p.endsWith(':read')),
      };
    },
    async settings(organizationId: string): Promise<Record<string, unknown> | undefined> {
      const row = await db
        .selectFrom('detection_settings')
        .select('settings')
        .where('organization_id', '=', organizationId)
        .executeTakeFirst();
      return row ? (JSON.parse(row.settings) as Record<string, unknown>) : undefined;
    },
    async saveSettings(organizationId: string, settings: Record<string, unknown>, at: string): Promise<void> {
      const value = JSON.stringify(settings);
      await db
        .insertInto('detection_settings')
        .values({ organization_id: organizationId, settings: value, updated_at: at })
        .onConflict((oc) => oc.column('organization_id').doUpdateSet({ settings: value, updated_at: at }))
        .execute();
    },
    /** When this column value was last seen in events of these types for the same subject (newValue rules). */
    async lastSeen(q: {
      organizationId: string;
      types: string[];
      subject: { column: 'actor_id' | 'target_id'; value: string } | null;
      field: { column: 'ip' | 'actor_id' | 'target_id'; value: string };
      since: string;
      /** Only events committed before this one (its seq), as the consumer saw them. */
      beforeSeq: number;
    }): Promise<string | undefined> {
      let query = db
        .selectFrom('events')
        .select('time')
        .where('organization_id', '=', q.organizationId)
        .where('time', '>=', q.since)
        .where('seq', '<', q.beforeSeq)
        .where(q.field.column, '=', q.field.value);
      if (q.types.length > 0) query = query.where('type', 'in', q.types);
      if (q.subject) query = query.where(q.subject.column, '=', q.subject.value);
      const row = await query.orderBy('seq', 'desc').limit(1).executeTakeFirst();
      return row?.time;
    },
    /** Keys for scheduled checks: active keys with their usage facts, every organization or one. */
    async activeKeys(organizationId: string, now: string) {
      const rows = await db
        .selectFrom('api_keys')
        .select([
          'id',
          'organization_id',
          'name',
          'hint',
          'scope',
          'permissions',
          'is_owner',
          'is_decoy',
          'created_at',
          'last_used_at',
        ])
        .where('organization_id', '=', organizationId)
        .where('status', '=', 'active')
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .orderBy('id')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        organizationId: r.organization_id,
        name: r.name,
        hint: r.hint,
        scope: r.scope,
        permissions: JSON.parse(r.permissions) as string[],
        isOwner: r.is_owner === 1,
        isDecoy: r.is_decoy === 1,
        createdAt: r.created_at,
        lastUsedAt: r.last_used_at,
      }));
    },
    async organizationIds(): Promise<string[]> {
      const rows = await db.selectFrom('organizations').select('id').orderBy('id').execute();
      return rows.map((r) => r.id);
    },
  };
}

export type DetectionRepo = ReturnType<typeof createDetectionRepo>;
