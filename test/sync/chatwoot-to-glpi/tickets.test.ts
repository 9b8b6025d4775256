import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixture } from '../../support/fixtures.js';
import { startHarness, type SyncHarness } from '../support.js';

describe('the ticket requester', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('comes from the incoming message sender when the conversation payload has no meta.sender', async () => {
    const payload = loadFixture<{ conversation: { meta?: unknown } }>('message_created.incoming');
    delete payload.conversation.meta;
    const outcome = await h.run(payload as unknown as Record<string, unknown>);
    const customer = h.sim.state.users.find((u) => u.realname === 'Dupont');
    expect(customer).toBeDefined();
    const requesters = h.sim.state.ticketUsers.filter((tu) => tu.tickets_id === outcome.ticketId && tu.type === 1);
    expect(requesters.map((r) => r.users_id)).toEqual([customer?.id]);
  });
});
