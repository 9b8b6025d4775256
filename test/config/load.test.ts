import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkGlpiApiUrl } from '../../src/config/glpi-url.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/index.js';

const minimal = {
  GLPI_API_URL: 'https://glpi.example.com/apirest.php',
  GLPI_USER_TOKEN: 'user-token-value',
  CHATWOOT_WEBHOOK_SECRET: 'hook-secret-value',
};

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig from environment variables (single hook)', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(minimal);
    expect(config.port).toBe(3000);
    expect(config.role).toBe('all');
    expect(config.bodyLimitBytes).toBe(1024 * 1024);
    const hook = config.hooks.get('default');
    expect(hook?.glpi).toMatchObject({
      baseUrl: 'https://glpi.example.com/apirest.php/',
      entityId: 0,
      syncType: 'user',
      ticketType: 1,
      categoryId: undefined,
      appToken: undefined,
    });
    expect(hook?.chatwoot.webhookSecrets).toEqual(['hook-secret-value']);
    expect(hook?.chatwoot.api).toBeUndefined();
  });

  it('reads every hook variable', () => {
    const hook = loadConfig({
      ...minimal,
      HOOK_ID: 'acme',
      GLPI_APP_TOKEN: 'app',
      GLPI_ENTITY_ID: '3',
      GLPI_SYNC_TYPE: 'contact',
      GLPI_TICKET_TYPE: '2',
      GLPI_CATEGORY_ID: '7',
      GLPI_DEFAULT_USER_ID: '9',
      PHONE_DEFAULT_REGION: 'fr',
      CHATWOOT_WEBHOOK_SECRET: 'new-secret-0123456789, old-secret-0123456789',
      CHATWOOT_BASE_URL: 'https://chat.example.com/',
      CHATWOOT_API_TOKEN: 'api',
    }).hooks.get('acme');
    expect(hook?.glpi).toMatchObject({ appToken: 'app', entityId: 3, syncType: 'contact', ticketType: 2, categoryId: 7, defaultUserId: 9 });
    expect(hook?.phoneDefaultRegion).toBe('FR');
    expect(hook?.chatwoot.webhookSecrets).toEqual(['new-secret-0123456789', 'old-secret-0123456789']);
    expect(hook?.chatwoot.api).toEqual({ baseUrl: 'https://chat.example.com', apiToken: 'api' });
  });

  it.each([
    [{ PORT: 'eighty' }, /^PORT: /],
    [{ ROLE: 'both' }, /^ROLE: /],
    [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL: must start with redis:\/\//],
    [{ GLPI_SYNC_TYPE: 'users' }, /^GLPI_SYNC_TYPE: /],
    [{ GLPI_TICKET_TYPE: '3' }, /^GLPI_TICKET_TYPE: must be 1 \(Incident\) or 2 \(Request\)/],
    [{ PHONE_DEFAULT_REGION: 'France' }, /^PHONE_DEFAULT_REGION: must be an ISO 3166 country code/],
    [{ GLPI_ENTITY_ID: '-1' }, /^GLPI_ENTITY_ID: /],
    [{ GLPI_USER_TOKEN: '' }, /^GLPI_USER_TOKEN: is required/],
    [{ CHATWOOT_WEBHOOK_SECRET: 'x' }, /^CHATWOOT_WEBHOOK_SECRET: must be at least 16 characters/],
    [{ CHATWOOT_WEBHOOK_SECRET: 'a-long-enough-new-secret,old' }, /^CHATWOOT_WEBHOOK_SECRET: must be at least 16 characters/],
    [{ CHATWOOT_WEBHOOK_TOKEN: 'tok' }, /^CHATWOOT_WEBHOOK_TOKEN: must be at least 16 characters/],
    [{ ADMIN_TOKEN: 'a' }, /^ADMIN_TOKEN: must be at least 16 characters/],
    [{ HEADERS_TIMEOUT_MS: '60000', REQUEST_TIMEOUT_MS: '30000' }, /^HEADERS_TIMEOUT_MS \(60000\) must not be larger than REQUEST_TIMEOUT_MS/],
  ])('names the variable at fault: %o', (override, message) => {
    expect(configError(() => loadConfig({ ...minimal, ...override })).message).toMatch(message);
  });

  it('accepts a webhook secret as Chatwoot generates it (24 characters, base58)', () => {
    const hook = loadConfig({ ...minimal, CHATWOOT_WEBHOOK_SECRET: 'kq3vZ8yTn6Lw2XfHc9RbPd4M' }).hooks.get('default');
    expect(hook?.chatwoot.webhookSecrets).toEqual(['kq3vZ8yTn6Lw2XfHc9RbPd4M']);
    const err = configError(() => loadConfig({ ...minimal, CHATWOOT_WEBHOOK_SECRET: 'shortsecret' }));
    expect(err.message).not.toContain('shortsecret');
  });

  it('requires GLPI_API_URL and says so', () => {
    const { GLPI_API_URL: _omit, ...rest } = minimal;
    expect(configError(() => loadConfig(rest)).message).toMatch(/^GLPI_API_URL: is required/);
  });

  it('refuses a hook with neither a secret nor a URL token unless allowUnauthenticated', () => {
    const env = { GLPI_API_URL: minimal.GLPI_API_URL, GLPI_USER_TOKEN: 'user-token-value' };
    const err = configError(() => loadConfig(env));
    expect(err.message).toContain('CHATWOOT_WEBHOOK_SECRET');
    expect(err.message).toContain('CHATWOOT_WEBHOOK_TOKEN');
    const hook = loadConfig({ ...env, ALLOW_UNAUTHENTICATED: 'true' }).hooks.get('default');
    expect(hook?.warnings.join(' ')).toContain('without authentication');
  });

  it('never puts a secret into an error message', () => {
    const err = configError(() => loadConfig({ ...minimal, GLPI_TICKET_TYPE: '9', GLPI_USER_TOKEN: 'very-secret-user-token' }));
    expect(err.message).not.toContain('very-secret-user-token');
    expect(err.message).not.toContain('hook-secret-value');
  });

  it('warns when only half of the Chatwoot write-back settings are given', () => {
    const hook = loadConfig({ ...minimal, CHATWOOT_API_TOKEN: 'api' }).hooks.get('default');
    expect(hook?.chatwoot.api).toBeUndefined();
    expect(hook?.warnings.join(' ')).toContain('CHATWOOT_BASE_URL');
  });
});

describe('GLPI_API_URL checks', () => {
  it('keeps apirest.php when building a base for relative paths', () => {
    const { baseUrl } = checkGlpiApiUrl('https://glpi.example.com/glpi/apirest.php');
    expect(baseUrl).toBe('https://glpi.example.com/glpi/apirest.php/');
    expect(new URL('initSession', baseUrl).toString()).toBe('https://glpi.example.com/glpi/apirest.php/initSession');
  });

  it('explains a missing /apirest.php with the URL to use', () => {
    const err = configError(() => checkGlpiApiUrl('https://glpi.example.com/glpi'));
    expect(err.message).toContain('does not end with /apirest.php');
    expect(err.advice).toContain('https://glpi.example.com/glpi/apirest.php');
  });

  it('removes a trailing slash with a warning', () => {
    const result = checkGlpiApiUrl('https://glpi.example.com/apirest.php/');
    expect(result.baseUrl).toBe('https://glpi.example.com/apirest.php/');
    expect(result.warnings.join(' ')).toContain('ends with a slash');
  });

  it('refuses an endpoint pasted into the base', () => {
    const err = configError(() => checkGlpiApiUrl('https://glpi.example.com/apirest.php/initSession'));
    expect(err.message).toContain('initSession');
    expect(err.advice).toContain('https://glpi.example.com/apirest.php');
  });

  it('accepts GLPI 11 /api.php/v1', () => {
    expect(checkGlpiApiUrl('https://glpi.example.com/api.php/v1').baseUrl).toBe('https://glpi.example.com/api.php/v1/');
  });

  it('warns about http:// to a remote host, not to a local or internal one', () => {
    expect(checkGlpiApiUrl('http://glpi.example.com/apirest.php').warnings.join(' ')).toContain('clear text');
    expect(checkGlpiApiUrl('http://127.0.0.1:8080/apirest.php').warnings).toEqual([]);
    expect(checkGlpiApiUrl('http://glpi/apirest.php').warnings).toEqual([]);
  });

  it('refuses credentials in the URL without repeating them', () => {
    const err = configError(() => checkGlpiApiUrl('https://admin:Sup3rPass@glpi.example.com/apirest.php'));
    expect(err.message).toContain('user name or password');
    expect(`${err.message} ${err.advice}`).not.toContain('Sup3rPass');
  });

  it('refuses what is not an http(s) URL', () => {
    expect(configError(() => checkGlpiApiUrl('glpi.example.com/apirest.php')).message).toContain('is not a URL');
    expect(configError(() => checkGlpiApiUrl('ftp://glpi.example.com/apirest.php')).message).toContain('http');
  });
});

describe('HOOKS_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cgb-hooks-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('loads several hooks from YAML with ${VAR} references', () => {
    const file = write(
      'hooks.yaml',
      `hooks:
  - id: acme
    glpiApiUrl: https://glpi.acme.example/apirest.php
    glpiUserToken: \${ACME_TOKEN}
    chatwootWebhookSecret: [new-secret-0123456789, old-secret-0123456789]
    glpiSyncType: contact
  - id: globex
    glpiApiUrl: \${GLOBEX_URL:-https://glpi.globex.example/apirest.php}
    glpiUserToken: globex-token
    chatwootWebhookToken: t0ken-0123456789abcdef
`,
    );
    const config = loadConfig({ HOOKS_FILE: file, ACME_TOKEN: 'acme-token' });
    expect([...config.hooks.keys()]).toEqual(['acme', 'globex']);
    expect(config.hooks.get('acme')?.glpi.userToken).toBe('acme-token');
    expect(config.hooks.get('acme')?.chatwoot.webhookSecrets).toEqual(['new-secret-0123456789', 'old-secret-0123456789']);
    expect(config.hooks.get('globex')?.glpi.baseUrl).toBe('https://glpi.globex.example/apirest.php/');
  });

  it('loads JSON too', () => {
    const file = write('hooks.json', JSON.stringify({ hooks: [{ id: 'j', glpiApiUrl: 'https://g.example/apirest.php', glpiUserToken: 'x', chatwootWebhookSecret: 'json-hook-secret-0123' }] }));
    expect(loadConfig({ HOOKS_FILE: file }).hooks.get('j')?.glpi.userToken).toBe('x');
  });

  it('names the hook entry and key at fault', () => {
    const file = write('bad.yaml', 'hooks:\n  - id: acme\n    glpiApiUrl: https://g.example/apirest.php\n    glpiUserToken: x\n    chatwootWebhookSecret: yaml-hook-secret-0123\n    glpiTicketType: 5\n');
    expect(configError(() => loadConfig({ HOOKS_FILE: file })).message).toMatch(/^HOOKS_FILE hooks\[0\]\.glpiTicketType: /);
  });

  it('refuses an unset variable reference instead of using an empty string', () => {
    const file = write('unset.yaml', 'hooks:\n  - id: acme\n    glpiApiUrl: https://g.example/apirest.php\n    glpiUserToken: ${NOT_SET_ANYWHERE}\n    chatwootWebhookSecret: yaml-hook-secret-0123\n');
    expect(configError(() => loadConfig({ HOOKS_FILE: file })).message).toContain('NOT_SET_ANYWHERE');
  });

  it('refuses duplicate hook ids, unreadable files and invalid YAML', () => {
    const dup = write('dup.yaml', 'hooks:\n  - {id: a, glpiApiUrl: "https://g.example/apirest.php", glpiUserToken: x, chatwootWebhookSecret: yaml-hook-secret-0123}\n  - {id: a, glpiApiUrl: "https://g.example/apirest.php", glpiUserToken: x, chatwootWebhookSecret: yaml-hook-secret-0123}\n');
    expect(configError(() => loadConfig({ HOOKS_FILE: dup })).message).toContain('defined twice');
    expect(configError(() => loadConfig({ HOOKS_FILE: join(dir, 'missing.yaml') })).message).toContain('cannot be read');
    const broken = write('broken.yaml', 'hooks: [\n');
    expect(configError(() => loadConfig({ HOOKS_FILE: broken })).message).toContain('not valid YAML');
  });
});

describe('loadConfig reports every mistake at once', () => {
  it('names each missing or invalid setting of an empty environment in one error', () => {
    const error = configError(() => loadConfig({}));
    expect(error.message).toContain('GLPI_API_URL');
    expect(error.message).toContain('GLPI_USER_TOKEN');
    expect(error.message).toContain('neither CHATWOOT_WEBHOOK_SECRET nor CHATWOOT_WEBHOOK_TOKEN is set');
    expect(error.advice).toMatch(/secret Chatwoot shows/);
  });

  it('reports a bad service setting, a bad URL shape and a short secret together', () => {
    const error = configError(() =>
      loadConfig({
        PORT: 'eighty',
        ROLE: 'everything',
        GLPI_API_URL: 'https://glpi.example.com/front/central.php',
        GLPI_USER_TOKEN: 'user-token-value',
        CHATWOOT_WEBHOOK_SECRET: 'short',
        GLPI_SYNC_TYPE: 'robot',
      }),
    );
    for (const name of ['PORT', 'ROLE', 'GLPI_API_URL', 'CHATWOOT_WEBHOOK_SECRET', 'GLPI_SYNC_TYPE']) expect(error.message).toContain(name);
    // The secret's value is never repeated, whatever else is wrong.
    expect(error.message).not.toContain('short');
  });

  it('reports the mistakes of several HOOKS_FILE entries together', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cgb-config-all-'));
    const file = join(dir, 'hooks.yaml');
    writeFileSync(
      file,
      'hooks:\n  - id: a\n    glpiApiUrl: https://glpi.example.com/apirest.php\n  - id: b\n    glpiUserToken: t\n    chatwootWebhookSecret: hook-secret-value\n',
    );
    const error = configError(() => loadConfig({ HOOKS_FILE: file, WORKER_CONCURRENCY: '0' }));
    expect(error.message).toContain('WORKER_CONCURRENCY');
    expect(error.message).toContain('HOOKS_FILE hooks[0].glpiUserToken');
    expect(error.message).toContain('HOOKS_FILE hooks[0].chatwootWebhookSecret');
    expect(error.message).toContain('HOOKS_FILE hooks[1].glpiApiUrl');
  });
});
