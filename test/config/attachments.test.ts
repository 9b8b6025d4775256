import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/config/defaults.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/index.js';

const base = { GLPI_API_URL: 'https://glpi.example.com/apirest.php', GLPI_USER_TOKEN: 't', CHATWOOT_WEBHOOK_SECRET: 'attachments-config-secret' };
const policy = (env: Record<string, string> = {}) => loadConfig({ ...base, ...env }).hooks.get('default')!.attachments;
const dir = mkdtempSync(join(tmpdir(), 'cgb-attachments-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('attachment settings', () => {
  it('default to bounded limits and no trusted host', () => {
    expect(policy()).toEqual({
      chatwootOrigin: undefined,
      allowedHosts: [],
      maxCount: DEFAULTS.attachments.maxCount,
      maxBytes: 25 * 1024 * 1024,
      maxMessageBytes: DEFAULTS.attachments.maxMessageBytes,
      timeoutMs: DEFAULTS.attachments.timeoutMs,
      jobBudgetMs: DEFAULTS.attachments.jobBudgetMs,
    });
  });

  it("trust Chatwoot's origin from CHATWOOT_BASE_URL even without an API token", () => {
    expect(policy({ CHATWOOT_BASE_URL: 'http://10.0.0.5:3000/app/' }).chatwootOrigin).toBe('http://10.0.0.5:3000');
  });

  it('read ATTACHMENT_* from the environment and attachment* keys from HOOKS_FILE', () => {
    expect(policy({ ATTACHMENT_ALLOWED_HOSTS: 'MinIO.internal:9000, files.example', ATTACHMENT_MAX_COUNT: '3', ATTACHMENT_TIMEOUT_MS: '500' })).toMatchObject({
      allowedHosts: ['minio.internal:9000', 'files.example'],
      maxCount: 3,
      timeoutMs: 500,
    });
    const file = join(dir, 'hooks.yaml');
    writeFileSync(file, 'hooks:\n  - id: a\n    glpiApiUrl: https://glpi.example.com/apirest.php\n    glpiUserToken: t\n    chatwootWebhookSecret: attachments-config-secret\n    attachmentAllowedHosts: [s3.internal]\n    attachmentJobBudgetMs: 1000\n');
    expect(loadConfig({ HOOKS_FILE: file }).hooks.get('a')?.attachments).toMatchObject({ allowedHosts: ['s3.internal'], jobBudgetMs: 1000 });
  });

  it.each(['http://minio.internal', 'minio.internal/path', 'user:pw@minio.internal', 'minio internal'])('refuse %s as an allowed host, naming the variable', (entry) => {
    let error: unknown;
    try {
      policy({ ATTACHMENT_ALLOWED_HOSTS: entry });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^ATTACHMENT_ALLOWED_HOSTS/);
  });
});
