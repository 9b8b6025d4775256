import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createGlpiClient, type GlpiClientHandle } from '../../src/glpi/client.js';
import type { ItemType } from '../../src/glpi/types.js';
import { SYNC_QUEUE_NAME } from '../../src/queue/job.js';
import { redisKeys } from '../../src/redis/keys.js';
import { G2cRecords } from '../../src/sync/glpi-to-chatwoot/records.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { startChatwootApi, type ChatwootApiDouble } from '../support/chatwoot-api/index.js';
import { testRedis, waitFor } from '../support/redis.js';
import { serviceTestEnv } from '../support/service-env.js';
import { glpiSignedHeaders, signedHeaders } from '../support/signed-webhook.js';
import { messageEvent } from '../sync/support.js';

const run = promisify(execFile);
const env = process.env;
/** The kit's install (shared/real-glpi/up.sh: STATE_DIR/glpi, STATE_DIR = ${TMPDIR:-/tmp}/real-glpi-VERSION). */
const GLPI_DIR = env.REAL_GLPI_DIR ?? join(env.TMPDIR ?? '/tmp', `real-glpi-${env.GLPI_TEST_VERSION ?? ''}`, 'glpi');
const SECRET = 'real-glpi-webhook-secret-0123456789';
const CHATWOOT_SECRET = 'real-glpi-chatwoot-secret-0123';
const ACCOUNT = 3;
const MARK = 'chatwoot-glpi-bridge real-GLPI webhook test';

/**
 * GLPI 11's own webhook delivery, end to end: a Webhook created through the API points at the
 * running bridge (127.0.0.1:<port>), a technician's followup queues it, GLPI's `queuedwebhook`
 * cron task (`php front/cron.php`, as the system crontab runs it) sends it, the bridge verifies
 * the signature, answers within GLPI's 5 s and polls: the followup reaches the Chatwoot double
 * once. The scheduled poll is set to 10 minutes, so only the webhook can have caused the post.
 *
 * GLPI 11 refuses URLs with a port unless config/local_define.php allows them
 * (glpi-changes-observed.md section 3.2): the test adds that define to the kit's throwaway install
 * when nothing allows 127.0.0.1 yet, never changing a define someone else wrote.
 */
const glpi11 = Boolean(env.GLPI_TEST_URL && env.GLPI_TEST_TECH_TOKEN && env.GLPI_TEST_VERSION?.startsWith('11.'));
const runnable = glpi11 && existsSync(join(GLPI_DIR, 'front/cron.php'));
if (glpi11 && !runnable && env.REQUIRE_REAL_GLPI === '1') {
  throw new Error(`GLPI ${env.GLPI_TEST_VERSION}'s install is not at ${GLPI_DIR} (no front/cron.php): set REAL_GLPI_DIR to the kit's STATE_DIR/glpi`);
}

describe.skipIf(!runnable)(`GLPI ${env.GLPI_TEST_VERSION ?? '?'} (real) webhook -> bridge -> Chatwoot double`, () => {
  let chatwoot: ChatwootApiDouble;
  let runtime: Runtime;
  let glpi: GlpiClientHandle;
  let tech: GlpiClientHandle;
  let webhookId = 0;
  // Made in beforeAll, not at collection: a skipped suite leaves no spool directory or Redis client.
  let service: ReturnType<typeof serviceTestEnv> | undefined;
  let inspect: ReturnType<typeof testRedis> | undefined;
  const unique = randomUUID().slice(0, 8);
  const conversationId = 90_000 + Math.floor(Math.random() * 9_000);

  beforeAll(async () => {
    service = serviceTestEnv('real-g2c-hook', { url: env.GLPI_TEST_URL ?? '', userToken: env.GLPI_TEST_USER_TOKEN });
    inspect = testRedis();
    await allowLocalWebhookUrls();
    chatwoot = await startChatwootApi();
    chatwoot.addConversation({ id: conversationId, account_id: ACCOUNT, contact: { id: conversationId, name: `Hook ${unique}`, email: `hook-${unique}@example.org`, phone_number: null } });
    const config = loadConfig({
      ...service.env,
      GLPI_APP_TOKEN: env.GLPI_TEST_APP_TOKEN,
      CHATWOOT_WEBHOOK_SECRET: CHATWOOT_SECRET,
      CHATWOOT_BASE_URL: chatwoot.url,
      CHATWOOT_API_TOKEN: 'chatwoot-admin-token',
      GLPI_TO_CHATWOOT: 'true',
      GLPI_POLL_INTERVAL_MS: String(10 * 60_000),
      GLPI_WEBHOOK_SECRET: SECRET,
    });
    runtime = await startRuntime(config, pino({ level: 'silent' }), { port: 0 });
    const glpiHook = { baseUrl: env.GLPI_TEST_URL!, appToken: env.GLPI_TEST_APP_TOKEN, entityId: 0, syncType: 'user' as const, ticketType: 1 as const, categoryId: undefined, defaultUserId: undefined, timeoutMs: 15_000 };
    glpi = createGlpiClient({ ...glpiHook, userToken: env.GLPI_TEST_USER_TOKEN!, hookId: 'admin' });
    tech = createGlpiClient({ ...glpiHook, userToken: env.GLPI_TEST_TECH_TOKEN!, hookId: 'tech' });
  });

  afterAll(async () => {
    if (webhookId > 0) await glpi.updateItem('Webhook', webhookId, { is_active: 0 }).catch(() => undefined);
    await Promise.all([glpi?.close(), tech?.close()].map((p) => p?.catch(() => undefined)));
    await runtime?.close();
    await chatwoot?.close();
    inspect?.disconnect();
    await service?.removeState();
  });

  const outgoing = () => chatwoot.conversation(ACCOUNT, conversationId)!.messages.filter((m) => m.message_type === 1 && !m.private);
  const glpiWebhookCount = async (outcome: string) => {
    const text = await (await request(`${runtime.address}/metrics`)).body.text();
    const line = text.split('\n').find((l) => l.startsWith(`cgb_webhooks_total{hook="default",event="glpi",outcome="${outcome}"}`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };

  it("a technician's followup reaches the conversation once, through GLPI's own signed webhook delivery", async () => {
    // The customer writes: the bridge creates the ticket and says so in a private note.
    const body = JSON.stringify(messageEvent({ id: conversationId, contact: { id: conversationId, name: `Hook ${unique}`, email: `hook-${unique}@example.org` } }, { id: conversationId * 10, content: `Webhook story ${unique}`, createdAt: new Date().toISOString() }));
    const posted = await request(`${runtime.address}/webhooks/chatwoot/default`, { method: 'POST', headers: signedHeaders(CHATWOOT_SECRET, body, `hook-${unique}`), body });
    await posted.body.dump();
    expect(posted.statusCode).toBe(202);
    const ticketId = await waitFor(() => {
      const note = chatwoot.conversation(ACCOUNT, conversationId)!.messages.find((m) => m.private && /GLPI ticket #\d+ created/.test(m.content ?? ''));
      return note === undefined ? undefined : Number(/#(\d+)/.exec(note.content ?? '')![1]);
    }, 'the ticket', 300);

    // The first poll sets the hook's cursor (what GLPI holds is history from then on). It is
    // nudged here, and the nudge's job must be gone (run and removed) before the Webhook exists:
    // a nudge still waiting could itself post the followup, and the test would not prove GLPI's delivery.
    const { bullPrefix } = redisKeys(service!.prefix);
    const records = new G2cRecords(inspect!, redisKeys(service!.prefix), 'default');
    const nudgeBody = '{\n    "event": "new"\n}';
    const nudge = await request(`${runtime.address}/webhooks/glpi/default`, { method: 'POST', headers: glpiSignedHeaders(SECRET, nudgeBody), body: nudgeBody });
    await nudge.body.dump();
    expect(nudge.statusCode).toBe(202);
    expect(await inspect!.exists(`${bullPrefix}:${SYNC_QUEUE_NAME}:meta`)).toBe(1); // the job key below is BullMQ's layout
    await waitFor(async () => ((await records.readCursor()).cursor === undefined ? undefined : true), 'the first poll');
    await waitFor(async () => ((await inspect!.exists(`${bullPrefix}:${SYNC_QUEUE_NAME}:glpi-nudge.default`)) === 0 ? true : undefined), 'the nudge job to be done');

    const hook = await glpi.addItem('Webhook', {
      name: `cgb-test-${unique}`,
      itemtype: 'ITILFollowup',
      event: 'new',
      url: `${runtime.address}/webhooks/glpi/default`,
      secret: SECRET,
      is_active: 1,
      http_method: 'post',
      use_default_payload: 1,
      entities_id: 0,
      is_recursive: 1,
    });
    webhookId = hook.id;
    const queuedBefore = await glpiWebhookCount('queued');

    const followup = await tech.addSubItem('Ticket', ticketId, 'ITILFollowup', { content: `<p>Coming over ${unique}</p>`, is_private: 0 });
    // GLPI queued the request inside the API call; nothing polls for 10 minutes: only the delivery can post.
    expect(outgoing()).toHaveLength(0);
    const cron = await run(phpBinary(), ['front/cron.php', '--allow-superuser', '--force', 'queuedwebhook'], { cwd: GLPI_DIR, timeout: 60_000 });
    expect(cron.stderr).toBe('');

    // GLPI recorded the bridge's answer (a 2xx within its 5 s timeout, else no status code). The
    // webhook fires for every new followup on this GLPI: other test files writing followups at the
    // same time queue deliveries too, so only this followup's delivery is looked at.
    const queued = await glpi.listPage('QueuedWebhook' as ItemType, { searchText: { webhooks_id: `^${webhookId}$`, items_id: `^${followup.id}$` }, sort: 'id', order: 'DESC', range: [0, 9] });
    expect(queued.items.map((q) => [q.itemtype, Number(q.sent_try), Number(q.last_status_code)])).toEqual([['ITILFollowup', 1, 202]]);
    // The bridge verified GLPI's signatures (none refused) and queued a poll for this delivery.
    expect(await glpiWebhookCount('rejected')).toBe(0);
    expect(await glpiWebhookCount('queued')).toBeGreaterThanOrEqual(queuedBefore + 1);

    await waitFor(() => (outgoing().length > 0 ? true : undefined), 'the outgoing message', 5_000 / 50);
    // Another delivery run (nothing queued) and a while for a duplicate to show: still one message.
    await run(phpBinary(), ['front/cron.php', '--allow-superuser', '--force', 'queuedwebhook'], { cwd: GLPI_DIR, timeout: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(outgoing().map((m) => m.content)).toEqual([`tech (IT): Coming over ${unique}`]);
  });
});

function phpBinary(): string {
  return existsSync('/usr/bin/php8.2') ? '/usr/bin/php8.2' : 'php';
}

/**
 * GLPI 11's default GLPI_SERVERSIDE_URL_ALLOWLIST refuses any URL with a port. Unless
 * config/local_define.php already allows http://127.0.0.1:<port>/ (checked by PHP itself), the
 * define is added: to a new file, or appended to one that does not define the constant. A file
 * defining it otherwise is left alone and the test fails saying so. Written atomically (rename).
 */
async function allowLocalWebhookUrls(): Promise<void> {
  const file = join(GLPI_DIR, 'config', 'local_define.php');
  const probe = 'http://127.0.0.1:45678/webhooks/glpi/default';
  const check = `require ${JSON.stringify(file)}; foreach ((defined('GLPI_SERVERSIDE_URL_ALLOWLIST') ? GLPI_SERVERSIDE_URL_ALLOWLIST : []) as $re) { if (preg_match($re, ${JSON.stringify(probe)})) { echo 'allowed'; exit(0); } } echo defined('GLPI_SERVERSIDE_URL_ALLOWLIST') ? 'other' : 'none';`;
  const current = existsSync(file) ? (await run(phpBinary(), ['-r', check])).stdout.trim() : 'none';
  if (current === 'allowed') return;
  if (current === 'other') throw new Error(`${file} defines GLPI_SERVERSIDE_URL_ALLOWLIST without allowing ${probe}; add '~^http://127\\.0\\.0\\.1:\\d+/~' to it`);
  const block = [
    `// ${MARK}: GLPI may call local receivers on 127.0.0.1 with a port (webhooks to the bridge under test).`,
    "if (!defined('GLPI_SERVERSIDE_URL_ALLOWLIST')) {",
    "    define('GLPI_SERVERSIDE_URL_ALLOWLIST', [",
    "        '~^(http|https|feed)://[^/:@\\s]+(/\\S*)?$~i', // as GLPI's default: any host, no port",
    "        '~^http://127\\.0\\.0\\.1:\\d{1,5}/~',",
    '    ]);',
    '}',
    '',
  ].join('\n');
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '<?php\n';
  const base = /\?>\s*$/.test(before) ? `${before.replace(/\s*$/, '')}\n<?php\n` : before.endsWith('\n') ? before : `${before}\n`;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, base + block);
  renameSync(tmp, file);
}
