import type { IpBlockList } from '../domain/detection/ip-blocks.ts';
import { isPromise, type MaybePromise } from '../domain/shared/maybe-promise.ts';
import { AppError } from '../errors/app-error.ts';
import type { IpBlock } from '../store/repos/detection.ts';

/**
 * Refuses requests from blocked addresses before authentication, so a blocked
 * attacker cannot even make the server hash a guessed key. Throws (or rejects
 * with) 403 `ip_blocked`; synchronous while the block list in memory is fresh.
 */
export function refuseBlockedIp(
  ipBlocks: IpBlockList,
  ip: string | null,
  organizationId: string | undefined,
  nowMs: () => number,
): MaybePromise<void> {
  const block = ipBlocks.check(ip, organizationId);
  if (isPromise(block)) return block.then((b) => refuse(b, nowMs));
  refuse(block, nowMs);
}

function refuse(block: IpBlock | undefined, nowMs: () => number): void {
  if (!block) return;
  const seconds = Math.max(1, Math.ceil((Date.parse(block.until) - nowMs()) / 1000));
  throw new AppError('ip_blocked', `Requests from this address are blocked until ${block.until}`, {
    headers: { 'retry-after': String(seconds) },
  });
}
