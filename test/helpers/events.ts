import { newId } from '../../src/crypto/ids.ts';
import type { EventRecord } from '../../src/store/repos/events.ts';
import type { TestApp } from './app.ts';

/** A `user.login.failed` event at the fake clock's time, for tests to append to the log themselves. */
export function loginFailedEvent(
  t: TestApp,
  userId: string,
  ip: string,
  email = 'victim@example.com',
): EventRecord {
  const now = t.clock.now();
  return {
    id: newId('evt', now.getTime()),
    organizationId: t.org,
    type: 'user.login.failed',
    time: now.toISOString(),
    actor: { type: 'anonymous', id: null, display: null },
    target: { type: 'user', id: userId },
    outcome: 'failure',
    ip,
    userAgent: 'curl/8',
    requestId: null,
    data: { email, reason: 'invalid_password' },
  };
}
