import { newId } from '../../crypto/ids.ts';
import type { EventRecord } from '../../store/repos/events.ts';
import type { Clock } from '../shared/clock.ts';
import type { RequestContext } from '../shared/types.ts';

export interface EventInput {
  organizationId: string;
  type: string;
  target?: { type: string; id: string } | null;
  outcome?: 'success' | 'failure';
  data?: Record<string, unknown>;
}

/** Builds an event in DESIGN.md's shape from who asked (context) and what happened (input). */
export function buildEvent(clock: Clock, ctx: RequestContext, input: EventInput): EventRecord {
  const now = clock.now();
  return {
    id: newId('evt', now.getTime()),
    organizationId: input.organizationId,
    type: input.type,
    time: now.toISOString(),
    actor: ctx.actor,
    target: input.target ?? null,
    outcome: input.outcome ?? 'success',
    ip: ctx.ip,
    userAgent: ctx.userAgent,
    requestId: ctx.requestId,
    data: input.data ?? {},
  };
}
