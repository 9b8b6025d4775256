import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dotEnvHint } from '../../src/config/dotenv-hint.js';

describe('the configuration error hint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cgb-dotenv-hint-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('points at .env.example when there is no .env and no HOOKS_FILE', () => {
    expect(dotEnvHint({}, dir)).toMatch(/cp \.env\.example \.env/);
  });

  it('says nothing when a .env or a HOOKS_FILE is there (the error itself is what to fix)', () => {
    expect(dotEnvHint({ HOOKS_FILE: '/etc/bridge/hooks.yaml' }, dir)).toBeUndefined();
    writeFileSync(join(dir, '.env'), 'GLPI_API_URL=\n');
    expect(dotEnvHint({}, dir)).toBeUndefined();
  });
});
