import type { DetectionRepo } from '../../store/repos/detection.ts';
import { parseDuration } from '../shared/duration.ts';
import type { ScheduledCheck } from './types.ts';

export interface CheckFinding {
  keyId: string;
  name: string;
  hint: string;
  isOwner: boolean;
  finding: 'never_used' | 'unused' | 'rotation_overdue';
  detail: string;
}

const DAY = 86_400_000;
const SEED_004_ROTATION: Record<string, string> = { admin: '30d', 'read-write': '60d', 'read-only': '90d' };

/** Seed 004's scope of a key: its preset, or inferred from its permissions. */
function scopeOf(key: { scope: string | null; permissions: string[]; isOwner: boolean }): string {
  if (key.isOwner || key.scope === 'owner' || key.scope === 'admin') return 'admin';
  if (key.scope === 'read-only' || key.scope === 'read-write') return key.scope;
  if (key.permissions.every((p) => p.endsWith(':read'))) return 'read-only';
  return key.permissions.some((p) => p.startsWith('organizations:') || p.startsWith('api-keys:write'))
    ? 'admin'
    : 'read-write';
}

/** Runs one scheduled check over an organization's active keys. */
export async function runKeyCheck(
  repo: DetectionRepo,
  organizationId: string,
  check: ScheduledCheck,
  now: Date,
): Promise<CheckFinding[]> {
  const keys = await repo.activeKeys(organizationId, now.toISOString());
  const out: CheckFinding[] = [];
  const t = now.getTime();
  for (const k of keys) {
    const base = { keyId: k.id, name: k.name, hint: k.hint, isOwner: k.isOwner };
    if (check.kind === 'key-never-used') {
      const days = check.days ?? 7;
      if (k.lastUsedAt === null && Date.parse(k.createdAt) <= t - days * DAY) {
        out.push({
          ...base,
          finding: 'never_used',
          detail: `never used in the ${days} days since it was created`,
        });
      }
    } else if (check.kind === 'key-unused') {
      const days = check.days ?? 30;
      const last = k.lastUsedAt ?? k.createdAt;
      if (Date.parse(last) <= t - days * DAY) {
        out.push({
          ...base,
          finding: 'unused',
          detail: `not used for ${days} days or more (last ${k.lastUsedAt ?? 'never'})`,
        });
      }
    } else {
      const scope = scopeOf(k);
      const max = parseDuration(check.maxAge?.[scope] ?? SEED_004_ROTATION[scope] ?? '90d') ?? 90 * DAY;
      if (Date.parse(k.createdAt) <= t - max) {
        out.push({
          ...base,
          finding: 'rotation_overdue',
          detail: `${scope} key older than its rotation period (${Math.round(max / DAY)} days)`,
        });
      }
    }
  }
  return out;
}
