import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { HookConfig } from '../../../src/config/schema.js';
import { GlpiError } from '../../../src/errors/index.js';
import type { GlpiItem } from '../../../src/glpi/types.js';
import { glpiWebhookCheck } from '../../../src/ops/doctor/glpi-webhook.js';
import { createGlpiClient } from '../../../src/glpi/client.js';

function hook(env: Record<string, string> = {}): HookConfig {
  return loadConfig({
    HOOK_ID: 'acme',
    GLPI_API_URL: 'https://glpi.example.com/apirest.php',
    GLPI_USER_TOKEN: 'glpi-user-token',
    ALLOW_UNAUTHENTICATED: 'true',
    CHATWOOT_BASE_URL: 'https://chatwoot.example.com',
    CHATWOOT_API_TOKEN: 'chatwoot-api-token',
    GLPI_TO_CHATWOOT: 'true',
    GLPI_WEBHOOK_SECRET: 'glpi-webhook-secret-0123456789',
    ...env,
  }).hooks.get('acme')!;
}

const client = (version: string | undefined, list: () => Promise<GlpiItem[]>) => ({ glpiVersion: version, listItems: list });
const webhook = (url: string, extra: Record<string, unknown> = {}): GlpiItem => ({ id: 1, url, is_active: 1, itemtype: 'ITILFollowup', event: 'new', ...extra });

describe('doctor: GLPI 11 webhook to the bridge', () => {
  it('is not checked on GLPI 10 or with GLPI_TO_CHATWOOT off', async () => {
    expect(await glpiWebhookCheck(hook(), client('10.0.3', async () => []))).toBeUndefined();
    expect(await glpiWebhookCheck(hook({ GLPI_TO_CHATWOOT: 'false' }), client('11.0.8', async () => []))).toBeUndefined();
  });

  it('passes with an active webhook to this hook, warns without one, or when inactive or without a secret', async () => {
    const ok = await glpiWebhookCheck(hook(), client('11.0.8', async () => [webhook('https://bridge.example.com/webhooks/glpi/acme')]));
    expect(ok).toMatchObject({ status: 'pass', detail: 'active: ITILFollowup/new' });
    const other = await glpiWebhookCheck(hook(), client('11.0.8', async () => [webhook('https://bridge.example.com/webhooks/glpi/other')]));
    expect(other).toMatchObject({ status: 'warn', detail: expect.stringMatching(/no active GLPI webhook to \/webhooks\/glpi\/acme/) });
    const inactive = await glpiWebhookCheck(hook(), client('11.0.8', async () => [webhook('https://bridge.example.com/webhooks/glpi/acme', { is_active: 0 })]));
    expect(inactive?.status).toBe('warn');
    const noSecret = await glpiWebhookCheck(hook({ GLPI_WEBHOOK_SECRET: '' }), client('11.0.8', async () => [webhook('https://bridge.example.com/webhooks/glpi/acme')]));
    expect(noSecret).toMatchObject({ status: 'warn', detail: expect.stringMatching(/GLPI_WEBHOOK_SECRET is not set/) });
  });

  it('warns, with where to look, when the token may not read webhooks', async () => {
    const refused = await glpiWebhookCheck(hook(), client('11.0.8', async () => {
      throw new GlpiError('ERROR_RIGHT_MISSING', 'You don\'t have permission to perform this action.');
    }));
    expect(refused).toMatchObject({ status: 'warn', detail: expect.stringMatching(/ERROR_RIGHT_MISSING/), fix: expect.stringMatching(/Setup > Webhooks/) });
  });

  it.skipIf(process.env.GLPI_TEST_VERSION !== '11.0.8')('reads the real GLPI 11 webhook list with the super-admin token', async () => {
    const real = createGlpiClient({ ...hook().glpi, baseUrl: `${process.env.GLPI_TEST_URL!.replace(/\/+$/, '')}/`, appToken: process.env.GLPI_TEST_APP_TOKEN, userToken: process.env.GLPI_TEST_USER_TOKEN!, hookId: 'doctor' });
    try {
      await real.ensureSession();
      const check = await glpiWebhookCheck(hook({ HOOK_ID: 'acme' }), real);
      expect(['pass', 'warn']).toContain(check?.status);
      expect(check?.detail).not.toMatch(/could not read/);
    } finally {
      await real.close();
    }
  });
});
