import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/index.js';

const minimal = {
  GLPI_API_URL: 'https://glpi.example.com/apirest.php',
  GLPI_USER_TOKEN: 'user-token-value',
  CHATWOOT_WEBHOOK_SECRET: 'hook-secret-value',
};

describe('customer binding settings', () => {
  it('default to self-service without trusting hmac_verified', () => {
    expect(loadConfig(minimal).hooks.get('default')?.customerBinding).toEqual({ policy: 'self-service', trustVerified: false });
  });

  it('are read from CUSTOMER_BINDING and CUSTOMER_BINDING_TRUST_VERIFIED', () => {
    const hook = loadConfig({ ...minimal, CUSTOMER_BINDING: 'created-only', CUSTOMER_BINDING_TRUST_VERIFIED: 'true' }).hooks.get('default');
    expect(hook?.customerBinding).toEqual({ policy: 'created-only', trustVerified: true });
  });

  it('are per hook in HOOKS_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgb-binding-'));
    const file = join(dir, 'hooks.yaml');
    const hook = (id: string, extra: string) =>
      `  - id: ${id}\n    glpiApiUrl: https://g.example/apirest.php\n    glpiUserToken: x\n    chatwootWebhookSecret: hook-secret-value\n${extra}`;
    writeFileSync(file, `hooks:\n${hook('strict', '    customerBinding: created-only\n')}${hook('loose', '    customerBinding: any\n    customerBindingTrustVerified: true\n')}`);
    const config = loadConfig({ HOOKS_FILE: file });
    rmSync(dir, { recursive: true, force: true });
    expect(config.hooks.get('strict')?.customerBinding).toEqual({ policy: 'created-only', trustVerified: false });
    expect(config.hooks.get('loose')?.customerBinding).toEqual({ policy: 'any', trustVerified: true });
  });

  it('refuse an unknown policy, naming the variable', () => {
    let error: unknown;
    try {
      loadConfig({ ...minimal, CUSTOMER_BINDING: 'staff' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/^CUSTOMER_BINDING: /);
  });
});
