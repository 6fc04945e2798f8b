import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateOpenApi } from '../src/cli/documents.ts';
import { renderConfigurationDoc } from '../src/config/docs.ts';
import { errorCodes } from '../src/errors/codes.ts';
import { renderErrorsDoc } from '../src/errors/docs.ts';

describe('generated documents stay in step with the code', () => {
  it('docs/configuration.md equals the rendering of the config schema (npm run docs)', () => {
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(renderConfigurationDoc());
  });

  it('docs/errors.md documents every code of the registry (npm run docs)', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    expect(doc).toBe(renderErrorsDoc());
    for (const code of Object.keys(errorCodes)) expect(doc).toContain(`\`${code}\``);
  });

  it('openapi.json equals the document generated from the routes (npm run openapi)', async () => {
    const doc = await generateOpenApi();
    expect(readFileSync('openapi.json', 'utf8')).toBe(doc);
    const parsed = JSON.parse(doc);
    expect(parsed.openapi).toBe('3.1.0');
    for (const [path, ops] of Object.entries(
      parsed.paths as Record<
        string,
        Record<string, { security?: unknown[]; responses: Record<string, unknown> }>
      >,
    )) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.responses['500'], `${method} ${path}`).toBeDefined();
        if (path.startsWith('/v1/')) {
          expect(op.security?.length, `${method} ${path} security`).toBeGreaterThan(0);
          expect(op.responses['401'], `${method} ${path} 401`).toBeDefined();
        }
      }
    }
  });
});
