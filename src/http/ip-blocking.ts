import type { FastifyInstance } from 'fastify';
import type { IpBlockList } from '../domain/detection/ip-blocks.ts';
import { AppError } from '../errors/app-error.ts';

/**
 * Refuses requests from blocked addresses before authentication, so a blocked
 * attacker cannot even make the server hash a guessed key.
 */
export function registerIpBlocking(
  app: FastifyInstance,
  deps: { ipBlocks: IpBlockList; now: () => Date },
): void {
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url === undefined || request.routeOptions.config.auth === 'none') return;
    const org = (request.params as Record<string, unknown> | undefined)?.org;
    const block = await deps.ipBlocks.check(request.ip, typeof org === 'string' ? org : undefined);
    if (!block) return;
    const seconds = Math.max(1, Math.ceil((Date.parse(block.until) - deps.now().getTime()) / 1000));
    throw new AppError('ip_blocked', `Requests from this address are blocked until ${block.until}`, {
      headers: { 'retry-after': String(seconds) },
    });
  });
}
