import type { RuleDefinition } from './types.ts';

export interface RuleTemplate {
  id: string;
  summary: string;
  definition: RuleDefinition;
}

const base = {
  description: null,
  enabled: true,
  mode: 'monitor' as const,
  condition: null,
  threshold: null,
  newValue: null,
  schedule: null,
  check: null,
  cooldown: '15m',
  maxActionsPerHour: 10,
};

const alertAll = { type: 'alert' as const, channels: ['*'] };

/**
 * Built-in detectors (issue 6, seed 004's "what to watch for"). Every new
 * organization gets them, enabled in monitor mode: they record and alert,
 * and act only once an administrator switches a rule to `enforce`.
 */
export const RULE_TEMPLATES: readonly RuleTemplate[] = [
  {
    id: 'brute-force-account',
    summary: 'Many failed logins for one account',
    definition: {
      ...base,
      name: 'Brute force on one account',
      severity: 'error',
      on: ['user.login.failed'],
      threshold: { count: 10, window: '5m', groupBy: ['target.id'] },
      actions: [alertAll, { type: 'lock_user', duration: '15m' }],
    },
  },
  {
    id: 'credential-stuffing',
    summary: 'Failures for many distinct accounts from one IP',
    definition: {
      ...base,
      name: 'Credential stuffing from one IP',
      severity: 'critical',
      on: ['user.login.failed', 'auth.failed', 'api_key.verification_failed'],
      condition: 'ip != ""',
      threshold: {
        count: 20,
        window: '10m',
        groupBy: ['ip'],
        distinct: 'data.email|data.identifier|data.keyHint|target.id',
      },
      actions: [alertAll, { type: 'block_ip', duration: '1h' }],
    },
  },
  {
    id: 'key-new-ip',
    summary: 'API key used from an IP it has not used in 30 days',
    definition: {
      ...base,
      name: 'API key used from a new IP',
      severity: 'warning',
      on: ['api_key.used'],
      condition: 'ip != ""',
      newValue: { field: 'ip', groupBy: ['target.id'], lookback: '30d' },
      cooldown: null,
      actions: [alertAll],
    },
  },
  {
    id: 'read-only-volume',
    summary: "Read-only key's hourly volume far above its own baseline",
    definition: {
      ...base,
      name: 'Read-only key volume spike',
      severity: 'error',
      on: ['api_key.used'],
      condition: 'key.readOnly == true',
      threshold: { count: 500, window: '1h', groupBy: ['target.id'], baseline: { factor: 5, history: '7d' } },
      cooldown: '6h',
      actions: [alertAll],
    },
  },
  {
    id: 'after-hours',
    summary: "Key use outside the organization's business hours",
    definition: {
      ...base,
      name: 'API key used outside business hours',
      severity: 'warning',
      on: ['api_key.used'],
      condition: '!businessHours(time, org)',
      threshold: { count: 1, window: '1h', groupBy: ['target.id'] },
      cooldown: '12h',
      actions: [alertAll],
    },
  },
  {
    id: 'verification-burst',
    summary: 'Burst of failed verifications for one key',
    definition: {
      ...base,
      name: 'Burst of failed verifications for one key',
      severity: 'error',
      on: ['api_key.verification_failed', 'auth.failed'],
      condition: 'has(data.keyId) || target.type == "api_key"',
      threshold: { count: 10, window: '1m', groupBy: ['target.id'] },
      actions: [alertAll, { type: 'revoke_api_key' }],
    },
  },
  {
    id: 'revoked-key-used',
    summary: 'A revoked or expired key is still being tried',
    definition: {
      ...base,
      name: 'Revoked or expired key still in use',
      severity: 'warning',
      on: ['auth.failed', 'api_key.verification_failed'],
      condition:
        '(has(data.reason) && data.reason in ["api_key_revoked", "api_key_expired"]) || (has(data.code) && data.code in ["REVOKED", "EXPIRED"])',
      threshold: { count: 1, window: '1h', groupBy: ['target.id'] },
      cooldown: '1h',
      actions: [alertAll, { type: 'block_ip', duration: '1h' }],
    },
  },
  {
    id: 'honeytoken',
    summary: 'A decoy key was used at all',
    definition: {
      ...base,
      name: 'Honeytoken key used',
      severity: 'critical',
      on: ['api_key.used', 'auth.failed', 'api_key.verification_failed'],
      condition: 'key.decoy == true',
      cooldown: '5m',
      actions: [alertAll, { type: 'block_ip', duration: '24h' }],
    },
  },
  {
    id: 'key-never-used',
    summary: 'Daily: keys never used 7 days after creation',
    definition: {
      ...base,
      name: 'API key never used (scheduled)',
      severity: 'info',
      on: [],
      schedule: '0 6 * * *',
      check: { kind: 'key-never-used', days: 7 },
      cooldown: '7d',
      actions: [alertAll],
    },
  },
  {
    id: 'key-unused',
    summary: 'Daily: keys not used for 30 days or more',
    definition: {
      ...base,
      name: 'API key unused for 30 days (scheduled)',
      severity: 'info',
      on: [],
      schedule: '0 6 * * *',
      check: { kind: 'key-unused', days: 30 },
      cooldown: '30d',
      actions: [alertAll, { type: 'revoke_api_key' }],
    },
  },
  {
    id: 'key-hygiene',
    summary: 'Daily: keys past their rotation period (admin 30d, read-write 60d, read-only 90d)',
    definition: {
      ...base,
      name: 'API key past its rotation period (scheduled)',
      severity: 'info',
      on: [],
      schedule: '0 6 * * *',
      check: { kind: 'key-rotation', maxAge: { admin: '30d', 'read-write': '60d', 'read-only': '90d' } },
      cooldown: '7d',
      actions: [alertAll],
    },
  },
];

export function findTemplate(id: string): RuleTemplate | undefined {
  return RULE_TEMPLATES.find((t) => t.id === id);
}
