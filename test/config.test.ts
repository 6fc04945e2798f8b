import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/load.ts';
import { runCli } from './helpers/cli.ts';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8443,
      host: '127.0.0.1',
      databaseUrl: undefined,
      trustProxy: [],
      publicUrl: 'https://localhost:8443',
    });
    expect(c.dataDir.endsWith('latchkey-data')).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads a JSON config file, with environment variables winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lk-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ port: 9000, logLevel: 'warn', trustProxy: ['10.0.0.1'] }));
    const c = loadConfig({ LATCHKEY_CONFIG: file, LATCHKEY_PORT: '9001' });
    expect(c).toMatchObject({ port: 9001, logLevel: 'warn', trustProxy: ['10.0.0.1'] });
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({
        LATCHKEY_PORT: 'eighty',
        LATCHKEY_TRUST_PROXY: '10.0.0.0/99,nope',
        DATABASE_URL: 'mysql://x',
        LATCHKEY_TLS_CERT: '/x.pem',
        LATCHKEY_LOG_LEVEL: 'loud',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toContain('LATCHKEY_PORT');
    expect(problems.join('\n')).toContain('10.0.0.0/99');
    expect(problems.join('\n')).toContain('"nope"');
    expect(problems.join('\n')).toContain('DATABASE_URL');
    expect(problems.join('\n')).toContain('LATCHKEY_TLS_KEY');
    expect(problems.join('\n')).toContain('LATCHKEY_LOG_LEVEL');
  });

  it('makes `latchkey serve` exit non-zero listing the problems', async () => {
    const res = await runCli(['serve'], { LATCHKEY_PORT: '70000', LATCHKEY_BODY_LIMIT: '5' });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('Invalid configuration');
    expect(res.stderr).toContain('LATCHKEY_PORT');
    expect(res.stderr).toContain('LATCHKEY_BODY_LIMIT');
  });
});
