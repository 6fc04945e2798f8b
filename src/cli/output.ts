import type { CreatedOrganization } from '../domain/organizations/service.ts';

/**
 * The owner key goes to the terminal once, straight to the stream and never
 * through the logger, so it does not land in a log pipeline.
 */
export function printOwnerKey(created: CreatedOrganization): void {
  const line = '─'.repeat(72);
  process.stderr.write(
    [
      '',
      line,
      ' Latchkey bootstrapped a new installation.',
      `   organization: ${created.organization.id} (${created.organization.name})`,
      `   owner key:    ${created.ownerKey.key}`,
      ' This key holds every permission and is shown only now. Store it in a',
      ' secrets manager; Latchkey keeps only a keyed hash of it.',
      line,
      '',
    ].join('\n'),
  );
}
