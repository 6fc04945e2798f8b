import type { AlertMessage } from '../alerts/channel-types.ts';
import { readPath } from './paths.ts';
import type { Firing } from './types.ts';

export const DEFAULT_MESSAGE =
  'Rule "{{rule.name}}" ({{rule.mode}}) fired: {{count}} matching event(s) of type {{event.type}} from IP {{ip}}.';

/** `{{path}}` placeholders over `{rule, count, ip, group, event, actions}`; unknown paths render empty. */
export function renderTemplate(template: string, scope: Record<string, unknown>): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_.]+)\s*\}\}/g, (_, path: string) => {
    const v = readPath(scope, path);
    if (v === undefined || v === null) return '';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}

export function alertFor(
  firing: Firing,
  template: string | undefined,
  outcomes: readonly string[],
): AlertMessage {
  const { rule, event } = firing;
  const scope = {
    rule: { id: rule.id, name: rule.name, mode: rule.mode, version: rule.version, severity: rule.severity },
    count: firing.count,
    ip: event.ip ?? 'unknown',
    group: firing.group,
    event,
    actions: outcomes.join('; '),
  };
  const lines = [
    renderTemplate(template ?? DEFAULT_MESSAGE, scope),
    '',
    `Rule: ${rule.name} (${rule.id}, version ${rule.version}, ${rule.mode} mode)`,
    `Count: ${firing.count}`,
    `IP: ${event.ip ?? 'unknown'}`,
    ...Object.entries(firing.group).map(([k, v]) => `${k}: ${String(v)}`),
    `Time: ${firing.at}`,
    `Events: ${firing.eventIds.slice(-20).join(', ')}`,
    ...(outcomes.length > 0 ? [`Actions: ${outcomes.join('; ')}`] : []),
  ];
  return {
    subject: `[Latchkey] ${rule.name}: ${firing.count} event(s) from ${event.ip ?? 'unknown IP'}`,
    text: lines.join('\n'),
    severity: rule.severity,
    dedupKey: `latchkey:${rule.id}:${firing.groupKey}`,
    details: {
      ruleId: rule.id,
      ruleVersion: rule.version,
      ruleName: rule.name,
      mode: rule.mode,
      count: firing.count,
      ip: event.ip,
      group: firing.group,
      eventIds: firing.eventIds,
    },
  };
}
