import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { REDIS_URL, testPrefix } from '../support/redis.js';

/** The CLI printed its whole usage after errors that were not about usage (`failed --hook nope`). */
const env = {
  REDIS_URL,
  REDIS_KEY_PREFIX: testPrefix('usage'),
  HOOK_ID: 'acme',
  GLPI_API_URL: 'http://127.0.0.1:9/apirest.php',
  GLPI_USER_TOKEN: 'usage-test-token',
  CHATWOOT_WEBHOOK_SECRET: 'usage-test-secret',
};

async function run(args: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(args, { env, out: (t) => void lines.push(t), err: (t) => void lines.push(t), redisTimeoutMs: 3_000 });
  return { code, text: lines.join('\n') };
}

describe('CLI usage text', () => {
  it('is printed for a malformed command line', async () => {
    const { code, text } = await run(['failed', '--bogus']);
    expect(code).toBe(2);
    expect(text).toContain('usage: chatwoot-glpi-bridge');
  });

  it('is not printed for an unknown hook, which names the configured ones instead', async () => {
    const { code, text } = await run(['failed', '--hook', 'nope\u001b[2J<script>']);
    expect(code).toBe(2);
    expect(text).not.toContain('usage:');
    expect(text).toContain('configured: acme');
  });
});
