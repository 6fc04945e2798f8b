import { newId } from '../../crypto/ids.ts';
import { createIpMatcher } from '../../net/cidr.ts';
import type { IpBlock } from '../../store/repos/detection.ts';
import type { Store } from '../../store/store.ts';
import { buildEvent } from '../audit/events.ts';
import type { Clock } from '../shared/clock.ts';
import type { MaybePromise } from '../shared/maybe-promise.ts';
import type { RequestContext } from '../shared/types.ts';

interface CompiledBlock {
  block: IpBlock;
  matches: (ip: string) => boolean;
}

/**
 * Blocked addresses, checked on every request before authentication. The
 * list lives in memory and is reloaded from the database every few seconds,
 * so a block made on one node reaches every node within the refresh interval
 * (immediately on the node that made it).
 */
export function createIpBlockList(deps: { store: Store; clock: Clock; refreshMs?: number }) {
  const { store, clock } = deps;
  const refreshMs = deps.refreshMs ?? 5_000;
  let blocks: CompiledBlock[] = [];
  let loadedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;

  async function reload(): Promise<void> {
    const rows = await store.detection.activeBlocks(clock.now().toISOString());
    blocks = rows.map((block) => ({ block, matches: createIpMatcher([block.range]) }));
    loadedAt = clock.nowMs();
  }

  /** Undefined when the list in memory is recent enough, else the reload to wait for. */
  function stale(): Promise<void> | undefined {
    if (clock.nowMs() - loadedAt < refreshMs) return undefined;
    loading ??= reload().finally(() => {
      loading = undefined;
    });
    return loading;
  }

  function match(ip: string, organizationId: string | undefined): IpBlock | undefined {
    if (blocks.length === 0) return undefined;
    const now = clock.now().toISOString();
    for (const { block, matches } of blocks) {
      if (block.until <= now) continue;
      if (!block.global && block.organizationId !== organizationId) continue;
      if (matches(ip)) return block;
    }
    return undefined;
  }

  return {
    reload,
    /**
     * The block that refuses `ip` for a request under `organizationId` (if any),
     * else undefined: from memory, synchronously, unless the list is older than
     * the refresh interval and this request waits for the reload.
     */
    check(
      ip: string | null | undefined,
      organizationId: string | undefined,
    ): MaybePromise<IpBlock | undefined> {
      if (!ip) return undefined;
      const loading = stale();
      return loading ? loading.then(() => match(ip, organizationId)) : match(ip, organizationId);
    },
    async block(
      ctx: RequestContext,
      input: {
        organizationId: string;
        range: string;
        untilMs: number;
        reason: string | null;
        ruleId: string | null;
        global: boolean;
      },
    ): Promise<IpBlock> {
      const now = clock.now();
      const block: IpBlock = {
        id: newId('blk', now.getTime()),
        organizationId: input.organizationId,
        range: input.range,
        global: input.global,
        until: new Date(input.untilMs).toISOString(),
        reason: input.reason,
        ruleId: input.ruleId,
        createdAt: now.toISOString(),
      };
      await store.transaction(async (tx) => {
        await tx.detection.insertBlock(block);
        await tx.events.append([
          buildEvent(clock, ctx, {
            organizationId: input.organizationId,
            type: 'ip.blocked',
            target: { type: 'ip', id: input.range },
            data: {
              blockId: block.id,
              ip: block.range,
              range: block.range,
              until: block.until,
              global: block.global,
              reason: block.reason,
            },
          }),
        ]);
      });
      await reload();
      return block;
    },
    async unblock(ctx: RequestContext, organizationId: string, id: string): Promise<boolean> {
      const removed = await store.transaction(async (tx) => {
        const ok = await tx.detection.deleteBlock(organizationId, id);
        if (ok) {
          await tx.events.append([
            buildEvent(clock, ctx, {
              organizationId,
              type: 'ip.unblocked',
              target: { type: 'ip_block', id },
              data: { blockId: id },
            }),
          ]);
        }
        return ok;
      });
      await reload();
      return removed;
    },
    async list(organizationId: string): Promise<IpBlock[]> {
      const rows = await store.detection.activeBlocks(clock.now().toISOString());
      return rows.filter((b) => b.organizationId === organizationId);
    },
  };
}

export type IpBlockList = ReturnType<typeof createIpBlockList>;
