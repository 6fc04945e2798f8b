import { AppError } from '../../errors/app-error.ts';
import type { UserCredentials } from '../../store/repos/credentials.ts';
import type { User } from '../../store/repos/users.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent, type EventInput } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';

/** Reading and saving a user's credentials row, with the events of a change in the same transaction. */
export function credentialHelpers(deps: { store: Store; clock: Clock }) {
  const { store, clock } = deps;
  const now = () => clock.now().toISOString();
  return {
    now,
    async credentialsOf(organizationId: string, userId: string): Promise<UserCredentials> {
      return (
        (await store.credentials.get(organizationId, userId)) ?? {
          userId,
          organizationId,
          passwordHash: null,
          passwordSetAt: null,
          mfaRequired: false,
          totpSealed: null,
          totpConfirmedAt: null,
          recoveryCodes: [],
          updatedAt: now(),
        }
      );
    },
    async mustGetUser(organizationId: string, userId: string): Promise<User> {
      const user = await store.users.get(organizationId, userId);
      if (!user) throw new AppError('not_found', 'No such user');
      return user;
    },
    async saveWithEvents(c: UserCredentials, ctx: RequestContext, events: EventInput[]) {
      await store.transaction(async (tx) => {
        await tx.credentials.save({ ...c, updatedAt: now() });
        await tx.events.append(events.map((e) => buildEvent(clock, ctx, e)));
      });
    },
    async emit(ctx: RequestContext, events: EventInput[]) {
      await store.events.append(events.map((e) => buildEvent(clock, ctx, e)));
    },
  };
}

export const totpContext = (c: { organizationId: string; userId: string }) =>
  `totp:${c.organizationId}:${c.userId}`;
