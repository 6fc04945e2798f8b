import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseSecretScanningKeys } from '../crypto/secret-scanning-keys.ts';
import { type Config, type ConfigKey, type ConfigKeySpec, configSpec } from './schema.ts';

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type RawValue = string | number | boolean | readonly unknown[] | undefined;

/** The config file is JSON whose keys are the camelCase names of `configSpec`. */
function readConfigFile(path: string, problems: string[]): Record<string, RawValue> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(
      `config file ${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      problems.push(`config file ${path}: must be a JSON object`);
      return {};
    }
    for (const key of Object.keys(parsed)) {
      if (!(key in configSpec)) problems.push(`config file ${path}: unknown key "${key}"`);
    }
    return parsed as Record<string, RawValue>;
  } catch {
    problems.push(`config file ${path}: is not valid JSON`);
    return {};
  }
}

function isCidrOrIp(value: string): boolean {
  const [addr, bits, extra] = value.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return Number.isInteger(n) && n >= 0 && n <= (family === 4 ? 32 : 128);
}

function parseValue(name: string, spec: ConfigKeySpec, raw: RawValue, problems: string[]): unknown {
  const label = `${spec.env} (${name})`;
  switch (spec.kind) {
    case 'port':
    case 'int': {
      const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
      const min = spec.kind === 'port' ? 0 : (spec.min ?? Number.MIN_SAFE_INTEGER);
      const max = spec.kind === 'port' ? 65535 : Number.MAX_SAFE_INTEGER;
      if (!Number.isInteger(n) || n < min || n > max) {
        problems.push(`${label}: must be an integer between ${min} and ${max}, got "${String(raw)}"`);
        return undefined;
      }
      return n;
    }
    case 'list': {
      const items = Array.isArray(raw)
        ? raw.map(String)
        : String(raw)
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
      if (name === 'trustProxy') {
        for (const item of items) {
          if (!isCidrOrIp(item)) problems.push(`${label}: "${item}" is not an IP address or CIDR range`);
        }
      }
      return Object.freeze(items);
    }
    case 'enum': {
      const value = String(raw);
      if (!spec.values?.includes(value)) {
        problems.push(`${label}: must be one of ${spec.values?.join(', ')}, got "${value}"`);
        return undefined;
      }
      return value;
    }
    case 'url': {
      const value = String(raw);
      try {
        new URL(value);
      } catch {
        problems.push(`${label}: is not a valid URL`);
        return undefined;
      }
      return value;
    }
    case 'secret': {
      const value = String(raw);
      if (Buffer.from(value, 'base64').length !== 32) {
        problems.push(`${label}: must be base64 of exactly 32 bytes`);
        return undefined;
      }
      return value;
    }
    default:
      return String(raw);
  }
}

/**
 * Parses configuration once: defaults, then the optional JSON config file
 * (`configFile` or `LATCHKEY_CONFIG`), then environment variables. Every
 * problem is collected before failing, and the result is frozen.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  options: { configFile?: string | undefined } = {},
): Readonly<Config> {
  const problems: string[] = [];
  const filePath = options.configFile ?? env.LATCHKEY_CONFIG;
  const fileValues = filePath ? readConfigFile(filePath, problems) : {};
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(configSpec) as [ConfigKey, ConfigKeySpec][]) {
    const envValue = env[spec.env];
    const raw: RawValue =
      envValue !== undefined && envValue !== '' ? envValue : (fileValues[name] ?? spec.default);
    out[name] = raw === undefined ? undefined : parseValue(name, spec, raw, problems);
  }
  if (Boolean(out.tlsCert) !== Boolean(out.tlsKey)) {
    problems.push('LATCHKEY_TLS_CERT and LATCHKEY_TLS_KEY must be set together');
  }
  if (out.databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(String(out.databaseUrl))) {
    problems.push('DATABASE_URL (databaseUrl): only postgres:// URLs are supported');
  }
  for (const problem of parseSecretScanningKeys(out.secretScanningKeys as string | undefined).problems) {
    problems.push(`LATCHKEY_SECRET_SCANNING_KEYS (secretScanningKeys): ${problem}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  out.dataDir = resolve(String(out.dataDir));
  out.publicUrl = String(out.publicUrl ?? `https://localhost:${out.port}`).replace(/\/+$/, '');
  return Object.freeze(out) as unknown as Readonly<Config>;
}
