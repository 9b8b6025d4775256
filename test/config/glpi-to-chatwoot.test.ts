import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/index.js';

const BASE = { HOOK_ID: 'acme', GLPI_API_URL: 'https://glpi.example.com/apirest.php', GLPI_USER_TOKEN: 'glpi-user-token', ALLOW_UNAUTHENTICATED: 'true' };
const API = { CHATWOOT_BASE_URL: 'https://chatwoot.example.com', CHATWOOT_API_TOKEN: 'chatwoot-api-token' };

describe('GLPI -> Chatwoot settings', () => {
  it('are off by default, with a 10 s poll and "{name} (IT)"', () => {
    const hook = loadConfig(BASE).hooks.get('acme')!;
    expect(hook.glpiToChatwoot).toEqual({ enabled: false, pollIntervalMs: 10_000, authorFormat: '{name} (IT)', privateAsNotes: false, webhookSecrets: [] });
  });

  it('read GLPI_TO_CHATWOOT, GLPI_POLL_INTERVAL_MS, GLPI_AUTHOR_FORMAT, GLPI_PRIVATE_AS_NOTES, GLPI_WEBHOOK_SECRET', () => {
    const hook = loadConfig({
      ...BASE,
      ...API,
      GLPI_TO_CHATWOOT: 'true',
      GLPI_POLL_INTERVAL_MS: '30000',
      GLPI_AUTHOR_FORMAT: '{name} from IT',
      GLPI_PRIVATE_AS_NOTES: 'yes',
      GLPI_WEBHOOK_SECRET: 'new-secret-0123456789,old-secret-0123456789',
    }).hooks.get('acme')!;
    expect(hook.glpiToChatwoot).toEqual({
      enabled: true,
      pollIntervalMs: 30_000,
      authorFormat: '{name} from IT',
      privateAsNotes: true,
      webhookSecrets: ['new-secret-0123456789', 'old-secret-0123456789'],
    });
  });

  it('refuse to switch on without the Chatwoot API, naming the variables', () => {
    expect(() => loadConfig({ ...BASE, GLPI_TO_CHATWOOT: 'true', CHATWOOT_BASE_URL: API.CHATWOOT_BASE_URL })).toThrow(ConfigError);
    expect(() => loadConfig({ ...BASE, GLPI_TO_CHATWOOT: 'true' })).toThrow(/GLPI_TO_CHATWOOT needs CHATWOOT_BASE_URL and CHATWOOT_API_TOKEN/);
  });

  it('refuse a format without {name}, a poll faster than 1 s and a short webhook secret', () => {
    expect(() => loadConfig({ ...BASE, ...API, GLPI_AUTHOR_FORMAT: 'IT' })).toThrow(/GLPI_AUTHOR_FORMAT/);
    expect(() => loadConfig({ ...BASE, ...API, GLPI_POLL_INTERVAL_MS: '10' })).toThrow(/GLPI_POLL_INTERVAL_MS/);
    expect(() => loadConfig({ ...BASE, ...API, GLPI_WEBHOOK_SECRET: 'short' })).toThrow(/GLPI_WEBHOOK_SECRET/);
  });
});
