import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RedisChild } from '../test/reliability/support.js';
import { startChatwootApi } from '../test/support/chatwoot-api/index.js';
import { buildDist, machine, ROOT } from './proc.js';
import { runSync, type SyncResult } from './sync.js';

/**
 * New tickets with and without the write-back to Chatwoot (issue #14: nothing inside the hook's
 * lock that could run outside it). One hook, BENCH_CONVERSATIONS new conversations of one message
 * each, so every job creates a GLPI ticket (GLPI simulator at BENCH_GLPI_LATENCY_MS per call,
 * behind the counting proxy as in the sync phase); a Chatwoot double answering each call after
 * BENCH_CHATWOOT_LATENCY_MS. The same drain runs with write-back off, then on (3 Chatwoot calls
 * per ticket: read the conversation, set its attribute, post the note). Under the lock the
 * write-back would add those calls to every ticket's turn; after it, they overlap with the next
 * tickets and the two drains should take about as long.
 *
 *   npx tsx bench/write-back.ts   (writes bench/write-back-results.json; BENCH_NO_BUILD=1 runs dist/ as it is)
 */

const conversations = Number(process.env.BENCH_CONVERSATIONS ?? 200);
const glpiLatencyMs = Number(process.env.BENCH_GLPI_LATENCY_MS ?? 20);
const chatwootLatencyMs = Number(process.env.BENCH_CHATWOOT_LATENCY_MS ?? 50);
const concurrency = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 8);
const ACCOUNT_ID = 3;
/** syncScenario's first conversation id. */
const FIRST_CONVERSATION_ID = 4_000;

interface Drain {
  eventsPerS: number;
  elapsedS: number;
  glpiCallsPerTicket: number;
  lockWaitMeanMs: number | null;
  failed: number;
}

const drain = (r: SyncResult): Drain => ({ eventsPerS: r.eventsPerS, elapsedS: r.elapsedS, glpiCallsPerTicket: r.glpiCallsPerMessage, lockWaitMeanMs: r.lockWaitMeanMs, failed: r.failed });

async function main(): Promise<void> {
  const build = buildDist();
  const redis = await RedisChild.start({ appendfsync: 'everysec' });
  const chatwoot = await startChatwootApi({ latencyMs: chatwootLatencyMs });
  try {
    for (let i = 0; i < conversations; i += 1) chatwoot.addConversation({ id: FIRST_CONVERSATION_ID + i, account_id: ACCOUNT_ID });
    const options = { messages: conversations, conversations, latencyMs: glpiLatencyMs, concurrency };
    console.log(`write-back: ${conversations} new tickets of one hook, GLPI at ${glpiLatencyMs} ms, Chatwoot at ${chatwootLatencyMs} ms per call, worker concurrency ${concurrency}`);
    const off = drain(await runSync(redis, options));
    const before = chatwoot.calls.length;
    const on = drain(
      await runSync(redis, {
        ...options,
        extraEnv: { CHATWOOT_BASE_URL: chatwoot.url, CHATWOOT_API_TOKEN: 'chatwoot-admin-token', CHATWOOT_ACCOUNT_ID: String(ACCOUNT_ID) },
      }),
    );
    const calls = chatwoot.calls.slice(before);
    const written = Array.from({ length: conversations }, (_, i) => chatwoot.conversation(ACCOUNT_ID, FIRST_CONVERSATION_ID + i)).filter(
      (c) => c !== undefined && c.custom_attributes.glpi_ticket_id !== undefined && c.messages.some((m) => m.private),
    ).length;
    const result = {
      command: 'npx tsx bench/write-back.ts',
      at: new Date().toISOString(),
      machine: machine(),
      build,
      settings: { conversations, glpiLatencyMs, chatwootLatencyMs, concurrency },
      writeBackOff: off,
      writeBackOn: { ...on, chatwootCalls: calls.length, chatwootCallsFailed: calls.filter((c) => c.status >= 300 || c.status === 0).length, conversationsWrittenBack: written },
      /** Tickets per second with write-back on, against off. */
      ratio: Math.round((on.eventsPerS / off.eventsPerS) * 1000) / 1000,
    };
    console.log('');
    console.log('| new tickets, one hook | tickets/s | drain s | GLPI calls per ticket | mean lock wait | failed |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const [name, d] of [['write-back off', off], ['write-back on', on]] as const) {
      console.log(`| ${name} | ${d.eventsPerS} | ${d.elapsedS} | ${d.glpiCallsPerTicket} | ${d.lockWaitMeanMs ?? '-'} ms | ${d.failed} |`);
    }
    console.log(`write-back on: ${calls.length} Chatwoot calls, ${written} of ${conversations} conversations written back; on/off ${result.ratio}`);
    writeFileSync(fileURLToPath(new URL('bench/write-back-results.json', ROOT)), `${JSON.stringify(result, null, 2)}\n`);
    if (written !== conversations) throw new Error(`only ${written} of ${conversations} conversations were written back`);
  } finally {
    await chatwoot.close();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
