import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import { systemContext } from '../shared/types.ts';

export interface SweepResult {
  expired: number;
  rotationDue: number;
}

/**
 * The background sweep over API keys: `api_key.expired` for each key past its
 * expiry and `api_key.rotation_due` for each live key past its rotation
 * period, each exactly once per key. The once-only guarantee comes from
 * `claimNotice` (a conditional update in the same transaction as the event):
 * several nodes may sweep at the same time and still write one event.
 */
export function createKeySweeper(deps: {
  store: Store;
  clock: Clock;
  /** Evicts an expired key from the verification cache. */
  invalidate: (hash: string) => void;
  batchSize?: number;
}) {
  const { store, clock } = deps;
  const batchSize = deps.batchSize ?? 500;
  let running: Promise<SweepResult> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function sweepOnce(): Promise<SweepResult> {
    const result: SweepResult = { expired: 0, rotationDue: 0 };
    for (;;) {
      const now = clock.now().toISOString();
      const keys = await store.apiKeys.expiredUnnotified(now, batchSize);
      for (const key of keys) {
        const claimed = await store.transaction(async (tx) => {
          if (!(await tx.apiKeys.claimNotice(key.id, 'expired', now))) return false;
          await tx.events.append([
            buildEvent(clock, systemContext, {
              organizationId: key.organizationId,
              type: 'api_key.expired',
              target: { type: 'api_key', id: key.id },
              data: { keyId: key.id, name: key.name, hint: key.hint, expiresAt: key.expiresAt },
            }),
          ]);
          return true;
        });
        deps.invalidate(key.keyHash);
        if (claimed) result.expired += 1;
      }
      if (keys.length < batchSize) break;
    }
    for (;;) {
      const now = clock.now().toISOString();
      const keys = await store.apiKeys.rotationDueUnnotified(now, batchSize);
      for (const key of keys) {
        const claimed = await store.transaction(async (tx) => {
          if (!(await tx.apiKeys.claimNotice(key.id, 'rotation_due', now))) return false;
          await tx.events.append([
            buildEvent(clock, systemContext, {
              organizationId: key.organizationId,
              type: 'api_key.rotation_due',
              target: { type: 'api_key', id: key.id },
              data: {
                keyId: key.id,
                name: key.name,
                hint: key.hint,
                tier: key.tier,
                createdAt: key.createdAt,
                rotationDueAt: key.rotationDueAt,
              },
            }),
          ]);
          return true;
        });
        if (claimed) result.rotationDue += 1;
      }
      if (keys.length < batchSize) break;
    }
    return result;
  }

  return {
    /** One pass; concurrent calls share it. */
    sweep(): Promise<SweepResult> {
      running ??= sweepOnce().finally(() => {
        running = undefined;
      });
      return running;
    },
    start(intervalMs: number, onError?: (error: unknown) => void): void {
      if (timer) return;
      const run = () => {
        this.sweep().catch((error) => onError?.(error));
      };
      // Once at start too: keys that expired while the server was down are reported without waiting.
      run();
      timer = setInterval(run, intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}

export type KeySweeper = ReturnType<typeof createKeySweeper>;
