import { newId } from '../../crypto/ids.ts';
import { AppError } from '../../errors/app-error.ts';
import { isUniqueViolation } from '../../store/errors.ts';
import type { User } from '../../store/repos/users.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import { decodeCursor, encodeCursor, type Page, type RequestContext } from '../shared/types.ts';

export interface UserInput {
  email: string;
  name?: string | null | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export interface UserPatch {
  email?: string | undefined;
  name?: string | null | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export function createUserService(deps: { store: Store; clock: Clock }) {
  const { store, clock } = deps;

  async function mustGet(organizationId: string, id: string): Promise<User> {
    const user = await store.users.get(organizationId, id);
    if (!user) throw new AppError('not_found');
    return user;
  }

  async function save(
    ctx: RequestContext,
    user: User,
    type: string,
    data: Record<string, unknown>,
    isNew: boolean,
  ) {
    try {
      await store.transaction(async (tx) => {
        if (isNew) await tx.users.insert(user);
        else await tx.users.update(user);
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId: user.organizationId,
            type,
            target: { type: 'user', id: user.id },
            data,
          }),
        ]);
      });
    } catch (error) {
      if (isUniqueViolation(error))
        throw new AppError('conflict', `A user with email ${user.email} already exists`);
      throw error;
    }
  }

  return {
    async create(ctx: RequestContext, organizationId: string, input: UserInput): Promise<User> {
      const now = clock.now().toISOString();
      const user: User = {
        id: newId('usr', clock.now().getTime()),
        organizationId,
        email: input.email.trim(),
        name: input.name ?? null,
        status: 'active',
        metadata: input.metadata ?? {},
        createdAt: now,
        updatedAt: now,
      };
      await save(ctx, user, 'user.created', { email: user.email, name: user.name }, true);
      return user;
    },

    get: mustGet,

    async list(
      organizationId: string,
      query: {
        email?: string | undefined;
        status?: 'active' | 'disabled' | undefined;
        cursor?: string | undefined;
        limit: number;
      },
    ): Promise<Page<User>> {
      let afterId: string | undefined;
      if (query.cursor !== undefined) {
        const parts = decodeCursor(query.cursor, 1);
        if (!parts) throw new AppError('invalid_cursor');
        afterId = parts[0];
      }
      const rows = await store.users.list(organizationId, {
        email: query.email,
        status: query.status,
        afterId,
        limit: query.limit + 1,
      });
      const data = rows.slice(0, query.limit);
      const last = data[data.length - 1];
      return { data, nextCursor: rows.length > query.limit && last ? encodeCursor([last.id]) : null };
    },

    async update(ctx: RequestContext, organizationId: string, id: string, patch: UserPatch): Promise<User> {
      const before = await mustGet(organizationId, id);
      const after: User = {
        ...before,
        ...(patch.email !== undefined ? { email: patch.email.trim() } : {}),
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.metadata !== undefined ? { metadata: patch.metadata } : {}),
        updatedAt: clock.now().toISOString(),
      };
      await save(ctx, after, 'user.updated', { changes: Object.keys(patch) }, false);
      return after;
    },

    async setStatus(
      ctx: RequestContext,
      organizationId: string,
      id: string,
      status: User['status'],
    ): Promise<User> {
      const before = await mustGet(organizationId, id);
      if (before.status === status) return before;
      const after: User = { ...before, status, updatedAt: clock.now().toISOString() };
      await save(
        ctx,
        after,
        status === 'disabled' ? 'user.disabled' : 'user.enabled',
        { email: after.email },
        false,
      );
      return after;
    },

    async delete(ctx: RequestContext, organizationId: string, id: string): Promise<void> {
      const user = await mustGet(organizationId, id);
      await store.transaction(async (tx) => {
        await tx.users.delete(organizationId, id);
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId,
            type: 'user.deleted',
            target: { type: 'user', id },
            data: { email: user.email },
          }),
        ]);
      });
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
