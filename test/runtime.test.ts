import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { startRuntime, type Runtime } from '../src/runtime.js';
import { escapeHtml } from '../src/util/html.js';
import { loadFixture } from './support/fixtures.js';
import { glpiDecode, SIM_GLPI_VERSIONS, startGlpiSimulator, type GlpiSimulator } from './support/glpi-simulator/index.js';
import { waitFor } from './support/redis.js';
import { serviceTestEnv } from './support/service-env.js';
import { signedHeaders } from './support/signed-webhook.js';

const SECRET = 'runtime-test-secret';
const HOSTILE_TEXT = '<b>not bold</b> & "quotes" 5 > 3 🙂\nnext line &amp; &#60;i&#62;';

/**
 * The whole service as `npm start` runs it (ROLE=all), fed the Chatwoot fixtures in story order
 * over real HTTP: the README demo, asserted, against the simulator behaving like each GLPI version.
 */
describe.each(SIM_GLPI_VERSIONS)('the service end to end (ROLE=all, real HTTP, real Redis, GLPI simulator %s)', (version) => {
  let sim: GlpiSimulator;
  let runtime: Runtime;
  let service: ReturnType<typeof serviceTestEnv> | undefined;

  beforeAll(async () => {
    sim = await startGlpiSimulator({ version });
    service = serviceTestEnv('runtime', { url: sim.url });
    const config = loadConfig({
      ...service.env,
      ADMIN_TOKEN: 'runtime-admin-token',
      GLPI_CATEGORY_ID: '1',
      PHONE_DEFAULT_REGION: 'FR',
      CHATWOOT_WEBHOOK_SECRET: SECRET,
    });
    runtime = await startRuntime(config, pino({ level: 'silent' }), { port: 0 });
  });

  afterAll(async () => {
    await runtime?.close();
    await sim?.close();
    await service?.removeState();
  });

  async function post(fixture: string): Promise<number> {
    const payload = loadFixture(fixture);
    // The agent's reply carries what a customer could type: markup, entities, quotes, emoji, lines.
    if (fixture === 'message_created.outgoing') payload.content = HOSTILE_TEXT;
    const body = JSON.stringify(payload);
    const res = await request(`${runtime.address}/webhooks/chatwoot/default`, { method: 'POST', headers: signedHeaders(SECRET, body, `${fixture}-${Date.now()}`), body });
    await res.body.dump();
    return res.statusCode;
  }

  it('turns the fixture story into a GLPI requester, one ticket, ordered followups and a solution', async () => {
    const story = [
      'contact_created', 'contact_updated', 'conversation_created', 'message_created.incoming',
      'message_created.attachment', 'message_created.outgoing', 'message_created.private_note',
      'conversation_updated', 'conversation_status_changed', 'conversation_updated.status_resolved',
    ];
    for (const fixture of story) expect(await post(fixture)).toBe(202);
    // Ignored and duplicate deliveries answer 200 and change nothing.
    expect(await post('conversation_typing_on')).toBe(200);

    // Jobs of one hook take turns on its mutex, not necessarily in delivery order: wait for the end state.
    const ticket = await waitFor(() => {
      const t = sim.state.tickets[0];
      return t?.status === 5 && sim.followupsOf(t.id).length === 3 ? t : undefined;
    }, 'the solved ticket with its three followups');
    expect(sim.state.tickets).toHaveLength(1);
    expect(ticket).toMatchObject({ type: 1, itilcategories_id: 1, entities_id: 0 });

    const customer = sim.state.users.find((u) => u.name === 'marie.dupont@example.org' || u.realname === 'Dupont');
    expect(customer).toMatchObject({ firstname: 'Marie', realname: 'Dupont', mobile: '+33612345678' });
    expect(sim.state.ticketUsers.filter((tu) => tu.tickets_id === ticket.id && tu.type === 1).map((tu) => tu.users_id)).toEqual([customer?.id]);

    // Every chat message appears exactly once: as the ticket's content or as a followup, never both,
    // and the timeline follows Chatwoot's times whatever order the jobs ran in.
    const followups = sim.followupsOf(ticket.id);
    // The simulator's rows hold text as that GLPI stores it: HTML-encoded on 10, raw on 11.
    const shown = (html: unknown) => (sim.version.startsWith('10.') ? glpiDecode(String(html)) : String(html));
    const idsIn = (html: unknown) => [...shown(html).matchAll(/data-chatwoot-message-id="(\d+)"/g)].map((m) => Number(m[1]));
    const inContent = idsIn(ticket.content);
    const inFollowups = followups.flatMap((f) => idsIn(f.content));
    expect([...inContent, ...inFollowups].sort()).toEqual([9801, 9802, 9803, 9804]);
    const dates = followups.map((f) => String(f.date));
    expect(dates).toEqual([...dates].sort());
    // A private note is never the (customer-visible) ticket content; it is a private followup.
    expect(inContent).not.toContain(9804);
    expect(followups.find((f) => idsIn(f.content).includes(9804))?.is_private).toBe(1);
    for (const f of followups.filter((x) => !idsIn(x.content).includes(9804))) expect(f.is_private).toBe(0);
    expect(sim.state.solutions.filter((s) => s.items_id === ticket.id)).toHaveLength(1);

    // What the technician sees is what the customer wrote (quotes, &, apostrophes), on either version.
    const incoming = loadFixture<{ content: string }>('message_created.incoming').content;
    expect(shown(ticket.content)).toContain(escapeHtml(incoming));
    expect(shown(ticket.content)).not.toMatch(/&amp;(amp|quot|#39);/);
    const reply = followups.find((f) => idsIn(f.content).includes(9803));
    expect(shown(reply?.content)).toContain(`<p>${escapeHtml(HOSTILE_TEXT).replace('\n', '<br>')}</p>`);
  });

  it('reports the hook healthy on /ready and counts GLPI calls on /metrics', async () => {
    // ADMIN_TOKEN is set: the per-hook details need it.
    const ready = await request(`${runtime.address}/ready`, { headers: { authorization: 'Bearer runtime-admin-token' } });
    const body = (await ready.body.json()) as {
      hooks: Record<string, { lastGlpiSuccessAt: string | null; glpiVersion: string | null; lastErrorCode: string | null }>;
    };
    expect(ready.statusCode).toBe(200);
    expect(body.hooks.default?.lastGlpiSuccessAt).not.toBeNull();
    expect(body.hooks.default?.glpiVersion).toBe(version);

    const metrics = await request(`${runtime.address}/metrics`, { headers: { authorization: 'Bearer runtime-admin-token' } });
    const text = await metrics.body.text();
    expect(metrics.statusCode).toBe(200);
    expect(text).toMatch(/cgb_glpi_calls_total\{hook="default",endpoint="POST \/ITILFollowup",status="201"\} 3/);
    expect(text).toMatch(/cgb_webhooks_total\{hook="default",event="message_created",outcome="queued"\} 4/);
  });

  it('kills its GLPI session on shutdown', async () => {
    expect(sim.state.sessions.length).toBeGreaterThan(0);
    await runtime.close();
    expect(sim.state.sessions).toEqual([]);
  });
});
