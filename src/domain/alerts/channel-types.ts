/** What each channel type keeps in clear (`settings`) and sealed at rest (`secrets`). */
export const CHANNEL_TYPES = ['email', 'sms', 'slack', 'pagerduty', 'webhook'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export const SECRET_FIELDS: Record<ChannelType, readonly string[]> = {
  email: ['password'],
  sms: ['authToken'],
  slack: ['url'],
  pagerduty: ['routingKey'],
  webhook: ['secret'],
};

export const REQUIRED_FIELDS: Record<ChannelType, readonly string[]> = {
  email: ['host', 'port', 'from', 'to'],
  sms: ['accountSid', 'authToken', 'from', 'to'],
  slack: ['url'],
  pagerduty: ['routingKey'],
  webhook: ['url'],
};

export interface AlertMessage {
  subject: string;
  text: string;
  severity: 'info' | 'warning' | 'error' | 'critical';
  /** Groups repeats into one incident (PagerDuty `dedup_key`). */
  dedupKey: string;
  details: Record<string, unknown>;
}

export interface ChannelSettings {
  type: ChannelType;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
}
