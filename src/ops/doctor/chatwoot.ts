import type { HookConfig } from '../../config/schema.js';
import { createChatwootApiClient, type ChatwootApiClient } from '../../chatwoot/api-client.js';
import { failure, type Add, type DoctorCheck, type DoctorDeps } from './types.js';

// ---- Chatwoot --------------------------------------------------------------------------------

export async function chatwootChecks(hook: HookConfig, deps: DoctorDeps, add: Add): Promise<void> {
  const title = 'Chatwoot API token valid';
  const api = hook.chatwoot.api;
  if (api === undefined) {
    const half = hook.warnings.find((w) => /write-back/.test(w));
    add({
      id: 'chatwoot.api',
      hookId: hook.id,
      title,
      status: half ? 'warn' : 'pass',
      detail: half ?? 'CHATWOOT_BASE_URL/CHATWOOT_API_TOKEN not set: no write-back, no resync',
      ...(half ? { fix: 'set both CHATWOOT_BASE_URL and CHATWOOT_API_TOKEN, or neither' } : {}),
    });
    return;
  }
  const client: ChatwootApiClient = createChatwootApiClient(api, { dispatcher: deps.chatwootDispatcher });
  try {
    const profile = await client.getProfile();
    const accounts = profile.accounts.map((a) => `${a.id}${a.role ? ` (${a.role})` : ''}`).join(', ');
    const notAdmin = profile.accounts.length > 0 && profile.accounts.every((a) => a.role !== undefined && a.role !== 'administrator');
    add(
      notAdmin
        ? {
            id: 'chatwoot.api',
            hookId: hook.id,
            title,
            status: 'warn',
            detail: `token of user ${profile.id}, accounts ${accounts}: not an administrator, so conversations outside its inboxes cannot be written back or resynced`,
            fix: 'use the access token of a dedicated Chatwoot administrator',
          }
        : { id: 'chatwoot.api', hookId: hook.id, title, status: 'pass', detail: `token of user ${profile.id}, account(s) ${accounts || 'none listed'}` },
    );
    if (hook.glpiToChatwoot.enabled) add(glpiToChatwootCheck(hook, profile.accounts));
  } catch (err) {
    add(failure('chatwoot.api', hook.id, title, err));
  } finally {
    await client.close();
  }
}

/**
 * GLPI -> Chatwoot posts outgoing messages and toggles status with this token, in the hook's
 * account (CHATWOOT_ACCOUNT_ID, else the token's only one: tickets do not say which account their
 * conversation is in). Posting is not tried: that would write to a customer's conversation.
 */
function glpiToChatwootCheck(hook: HookConfig, accounts: readonly { id: number; role: string | undefined }[]): DoctorCheck {
  const id = 'chatwoot.glpi-to-chatwoot';
  const title = 'Chatwoot token may post answers and change status (GLPI_TO_CHATWOOT)';
  // The account the answers go to: CHATWOOT_ACCOUNT_ID, else the token's only account.
  const configured = hook.chatwoot.api?.accountId;
  const account = configured !== undefined ? accounts.find((a) => a.id === configured) : accounts.length === 1 ? accounts[0] : undefined;
  if (account === undefined) {
    return {
      id,
      hookId: hook.id,
      title,
      status: 'fail',
      detail:
        configured !== undefined
          ? `CHATWOOT_ACCOUNT_ID is ${configured}, but the token's user is not in that account`
          : `the token's user belongs to ${accounts.length} accounts: the bridge cannot tell which one a ticket's conversation is in`,
      fix: 'set CHATWOOT_ACCOUNT_ID (chatwootAccountId) to the account of this hook, with the token of an administrator of that account',
      code: 'CHATWOOT_ACCOUNT_UNKNOWN',
    };
  }
  if (account.role !== undefined && account.role !== 'administrator') {
    return {
      id,
      hookId: hook.id,
      title,
      status: 'warn',
      detail: `agent of account ${account.id}: may post and change status only in conversations of its own inboxes`,
      fix: 'use the access token of a dedicated Chatwoot administrator',
    };
  }
  return { id, hookId: hook.id, title, status: 'pass', detail: `administrator of account ${account.id}: may post messages and change status in every conversation` };
}
