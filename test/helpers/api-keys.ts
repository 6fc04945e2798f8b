import type { TestApp } from './app.ts';

export interface AuditRow {
  id: string;
  type: string;
  outcome: string;
  ip: string | null;
  actor: { type: string; id: string | null; display: string | null };
  target: { type: string; id: string } | null;
  data: Record<string, unknown>;
}

/** Writes batched events now, then reads the organization's audit log filtered by type (and target). */
export async function auditEvents(
  app: TestApp,
  type: string,
  options: { org?: string; targetId?: string; key?: string } = {},
): Promise<AuditRow[]> {
  await app.services.batch.flush();
  const query = new URLSearchParams({ type, limit: '200' });
  if (options.targetId) query.set('targetId', options.targetId);
  const res = await app.call({
    method: 'GET',
    url: `/v1/organizations/${options.org ?? app.org}/audit-logs?${query}`,
    ...(options.key ? { key: options.key } : {}),
  });
  if (res.statusCode !== 200) throw new Error(`audit-logs: ${res.statusCode} ${res.body}`);
  return (res.json() as { data: AuditRow[] }).data;
}

export const keysUrl = (app: TestApp, id?: string) =>
  `/v1/organizations/${app.org}/api-keys${id ? `/${id}` : ''}`;

export async function createKeyBody(app: TestApp, payload: Record<string, unknown>, key?: string) {
  const res = await app.call({
    method: 'POST',
    url: keysUrl(app),
    payload: { name: 'test', ...payload },
    ...(key ? { key } : {}),
  });
  if (res.statusCode !== 201) throw new Error(`create key: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown> & { id: string; key: string };
}

export const me = (app: TestApp, key: string, extra: Record<string, unknown> = {}) =>
  app.call({ method: 'GET', url: '/v1/users/me', key, ...extra });
