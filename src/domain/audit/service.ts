import { AppError } from '../../errors/app-error.ts';
import type { EventFilter, StoredEvent } from '../../store/repos/events.ts';
import type { Store } from '../../store/store.ts';
import { decodeCursor, encodeCursor, type Page } from '../shared/types.ts';

export type AuditQuery = Omit<EventFilter, 'before' | 'limit'> & {
  cursor?: string | undefined;
  limit: number;
};

export function createAuditService(deps: { store: Store }) {
  const { store } = deps;
  return {
    /** Newest first, keyset-paginated on (time, id). */
    async list(organizationId: string, query: AuditQuery): Promise<Page<StoredEvent>> {
      let before: EventFilter['before'];
      if (query.cursor !== undefined) {
        const parts = decodeCursor(query.cursor, 2);
        if (!parts) throw new AppError('invalid_cursor');
        before = { time: parts[0]!, id: parts[1]! };
      }
      const rows = await store.events.list(organizationId, { ...query, before, limit: query.limit + 1 });
      const data = rows.slice(0, query.limit);
      const last = data[data.length - 1];
      return {
        data,
        nextCursor: rows.length > query.limit && last ? encodeCursor([last.time, last.id]) : null,
      };
    },

    /** Streams a time range page by page, so an export of millions of rows never sits in memory. */
    async *export(
      organizationId: string,
      query: Omit<AuditQuery, 'cursor' | 'limit'>,
    ): AsyncGenerator<StoredEvent> {
      let before: EventFilter['before'];
      for (;;) {
        const rows = await store.events.list(organizationId, { ...query, before, limit: 1000 });
        for (const row of rows) yield row;
        const last = rows[rows.length - 1];
        if (!last || rows.length < 1000) return;
        before = { time: last.time, id: last.id };
      }
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
