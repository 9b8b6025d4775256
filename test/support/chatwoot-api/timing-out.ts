import type { ChatwootApiClient } from '../../../src/chatwoot/api-client.js';
import { ChatwootError } from '../../../src/errors/index.js';

/**
 * A Chatwoot client whose every conversation read fails as the real client does when Chatwoot does
 * not answer within its timeout (CHATWOOT_TIMEOUT), without the test waiting for one; `calls()`
 * counts the tries.
 */
export function timingOutChatwoot(base: ChatwootApiClient): { client: ChatwootApiClient; calls: () => number } {
  let calls = 0;
  const client: ChatwootApiClient = {
    ...base,
    async getConversation() {
      calls += 1;
      throw new ChatwootError('CHATWOOT_TIMEOUT', 'Chatwoot GET conversation did not answer within 10000 ms', { endpoint: 'conversation' });
    },
  };
  return { client, calls: () => calls };
}
