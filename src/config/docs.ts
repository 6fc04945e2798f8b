import { type ConfigKeySpec, configSpec } from './schema.ts';

function formatDefault(spec: ConfigKeySpec): string {
  if (spec.default === undefined) return '—';
  if (Array.isArray(spec.default))
    return spec.default.length === 0 ? '(empty)' : `\`${spec.default.join(',')}\``;
  return `\`${String(spec.default)}\``;
}

/** Renders docs/configuration.md from the config schema; a test keeps the committed file equal to this. */
export function renderConfigurationDoc(): string {
  const rows = (Object.entries(configSpec) as [string, ConfigKeySpec][]).map(
    ([name, spec]) =>
      `| \`${spec.env}\` | \`${name}\` | ${formatDefault(spec)} | ${spec.description}${
        spec.values ? ` One of: ${spec.values.map((v) => `\`${v}\``).join(', ')}.` : ''
      } |`,
  );
  return [
    '# Configuration',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs`. Do not edit by hand. -->',
    '',
    'Latchkey reads its configuration once at start: defaults, then an optional JSON file named by',
    '`LATCHKEY_CONFIG` (or `latchkey serve --config FILE`) whose keys are the names in the second column,',
    'then environment variables, which win. Invalid configuration stops the process with a non-zero',
    'exit code and a list of every problem found.',
    '',
    '| Environment variable | Config file key | Default | Description |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
