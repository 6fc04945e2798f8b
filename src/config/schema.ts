/**
 * The one description of every configuration key. Parsing, validation and
 * `docs/configuration.md` all come from this table.
 */
export type ConfigKind = 'string' | 'port' | 'int' | 'path' | 'url' | 'list' | 'enum' | 'secret';

export interface ConfigKeySpec {
  env: string;
  kind: ConfigKind;
  description: string;
  default?: string | number | readonly string[];
  values?: readonly string[];
  min?: number;
}

export const configSpec = {
  port: {
    env: 'LATCHKEY_PORT',
    kind: 'port',
    default: 8443,
    description: 'TCP port the HTTPS server listens on.',
  },
  host: {
    env: 'LATCHKEY_HOST',
    kind: 'string',
    default: '127.0.0.1',
    description: 'Interface to bind. Use `0.0.0.0` (or `::`) to accept connections from other machines.',
  },
  dataDir: {
    env: 'LATCHKEY_DATA_DIR',
    kind: 'path',
    default: './latchkey-data',
    description:
      'Directory for the embedded SQLite database, the generated TLS certificate and the generated master key.',
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    kind: 'url',
    description:
      'PostgreSQL connection string (`postgres://user@host:5432/db`). When unset, SQLite in the data directory is used.',
  },
  redisUrl: {
    env: 'REDIS_URL',
    kind: 'url',
    description:
      'Redis connection string for shared rate limits and cache invalidation across several nodes.',
  },
  tlsCert: {
    env: 'LATCHKEY_TLS_CERT',
    kind: 'path',
    description:
      'PEM certificate (chain) file. With `LATCHKEY_TLS_KEY`; when both are unset a self-signed certificate is generated in the data directory.',
  },
  tlsKey: {
    env: 'LATCHKEY_TLS_KEY',
    kind: 'path',
    description: 'PEM private key file for `LATCHKEY_TLS_CERT`.',
  },
  trustProxy: {
    env: 'LATCHKEY_TRUST_PROXY',
    kind: 'list',
    default: [],
    description:
      'Comma-separated IP addresses or CIDR ranges of reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` headers are believed. Headers from any other peer are ignored.',
  },
  publicUrl: {
    env: 'LATCHKEY_PUBLIC_URL',
    kind: 'url',
    description:
      'External base URL of this server (used for OAuth issuers and links). Defaults to `https://localhost:<port>`.',
  },
  masterKey: {
    env: 'LATCHKEY_MASTER_KEY',
    kind: 'secret',
    description:
      'Base64 of 32 random bytes used to encrypt secrets at rest and to key API-key hashes. When unset, one is generated into `<dataDir>/master.key` (mode 0600) on first start.',
  },
  logLevel: {
    env: 'LATCHKEY_LOG_LEVEL',
    kind: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    description: 'Minimum level of the JSON log written to standard output. Secrets are always redacted.',
  },
  bodyLimit: {
    env: 'LATCHKEY_BODY_LIMIT',
    kind: 'int',
    min: 1024,
    default: 1048576,
    description: 'Largest accepted request body in bytes; larger bodies answer 413 `payload_too_large`.',
  },
  auditSealInterval: {
    env: 'LATCHKEY_AUDIT_SEAL_INTERVAL',
    kind: 'int',
    min: 1,
    default: 60,
    description:
      'Seconds between audit-log seals (hash-chain checkpoints verified by `latchkey audit verify`).',
  },
  usageFlushInterval: {
    env: 'LATCHKEY_USAGE_FLUSH_MS',
    kind: 'int',
    min: 50,
    default: 1000,
    description: 'Milliseconds between batched writes of API-key usage statistics and high-volume events.',
  },
  dispatchInterval: {
    env: 'LATCHKEY_DISPATCH_INTERVAL_MS',
    kind: 'int',
    min: 10,
    default: 100,
    description:
      'Milliseconds between polls of the event outbox and the webhook delivery queue when they are idle (`latchkey serve` and `latchkey worker`).',
  },
  outboundAllowlist: {
    env: 'LATCHKEY_OUTBOUND_ALLOWLIST',
    kind: 'list',
    default: [],
    description:
      'Comma-separated host names and CIDR ranges that outbound requests (webhooks, alerts) may reach even though they are private or loopback addresses; such hosts may also use plain HTTP.',
  },
  rulesPollInterval: {
    env: 'LATCHKEY_RULES_POLL_MS',
    kind: 'int',
    min: 50,
    default: 500,
    description:
      'Milliseconds between polls of the event log by the rule engine (detection latency). Events written in batches (`api_key.used`, `auth.failed`) reach it after `LATCHKEY_USAGE_FLUSH_MS` as well.',
  },
  rulesWarmup: {
    env: 'LATCHKEY_RULES_WARMUP_S',
    kind: 'int',
    min: 0,
    default: 3600,
    description:
      'Seconds of recent events replayed at start to rebuild rule windows (thresholds, baselines) before new events are evaluated.',
  },
  keySweepInterval: {
    env: 'LATCHKEY_KEY_SWEEP_INTERVAL',
    kind: 'int',
    min: 1,
    default: 60,
    description:
      'Seconds between sweeps over API keys that write `api_key.expired` and `api_key.rotation_due` (once per key).',
  },
  webhookRetentionDays: {
    env: 'LATCHKEY_WEBHOOK_RETENTION_DAYS',
    kind: 'int',
    min: 1,
    default: 30,
    description:
      'Days a finished webhook delivery (succeeded or failed) and its attempts are kept, counted from its last change; `latchkey serve` deletes older ones every hour. Pending deliveries are kept until they finish. The audit log is not affected.',
  },
  secretScanningKeys: {
    env: 'LATCHKEY_SECRET_SCANNING_KEYS',
    kind: 'string',
    description:
      'Public keys that sign leaked-key reports to `POST /v1/secret-scanning/reports` (GitHub secret scanning partner program): a JSON object `{"<key identifier>": "<PEM>"}`, inline or as the path of a JSON file. ECDSA P-256 only. When unset, reports are refused.',
  },
} as const satisfies Record<string, ConfigKeySpec>;

export type ConfigKey = keyof typeof configSpec;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  trustProxy: readonly string[];
  publicUrl: string;
  masterKey: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  bodyLimit: number;
  auditSealInterval: number;
  usageFlushInterval: number;
  dispatchInterval: number;
  outboundAllowlist: readonly string[];
  rulesPollInterval: number;
  rulesWarmup: number;
  keySweepInterval: number;
  webhookRetentionDays: number;
  secretScanningKeys: string | undefined;
}
