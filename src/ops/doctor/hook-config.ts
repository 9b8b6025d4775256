import type { HookConfig } from '../../config/schema.js';
import type { Add } from './types.js';

// ---- configuration of the hook ---------------------------------------------------------------

export function hookConfigChecks(hook: HookConfig, add: Add): void {
  add(
    hook.enabled
      ? { id: 'hook.enabled', hookId: hook.id, title: 'hook enabled', status: 'pass', detail: 'events are synced' }
      : {
          id: 'hook.enabled',
          hookId: hook.id,
          title: 'hook enabled',
          status: 'warn',
          detail: 'the hook is disabled: its webhooks are answered "ignored" and nothing reaches GLPI',
          fix: 'set enabled: true (HOOK_ENABLED=true) when you want it to sync',
        },
  );

  const urlWarnings = hook.warnings.filter((w) => w.startsWith('GLPI_API_URL') || /glpiApiUrl/.test(w));
  const insecure = urlWarnings.filter((w) => /http:\/\//.test(w));
  const cosmetic = urlWarnings.filter((w) => !insecure.includes(w));
  if (insecure.length > 0) {
    add({
      id: 'glpi.url',
      hookId: hook.id,
      title: 'GLPI_API_URL shape',
      status: 'fail',
      detail: insecure.join('; '),
      fix: `use https:// (${hook.glpi.baseUrl.replace(/^http:/, 'https:').replace(/\/$/, '')})`,
      code: 'GLPI_URL_INSECURE',
    });
  } else if (cosmetic.length > 0) {
    add({
      id: 'glpi.url',
      hookId: hook.id,
      title: 'GLPI_API_URL shape',
      status: 'warn',
      detail: cosmetic.join('; '),
      fix: `set it to ${hook.glpi.baseUrl.replace(/\/$/, '')}`,
    });
  } else {
    add({ id: 'glpi.url', hookId: hook.id, title: 'GLPI_API_URL shape', status: 'pass', detail: hook.glpi.baseUrl.replace(/\/$/, '') });
  }

  const { webhookSecrets, webhookToken } = hook.chatwoot;
  if (webhookSecrets.length > 0 || webhookToken !== undefined) {
    const how = [webhookSecrets.length > 0 ? `${webhookSecrets.length} signing secret(s)` : '', webhookToken !== undefined ? 'a URL token' : '']
      .filter((s) => s !== '')
      .join(' and ');
    add({ id: 'webhook.auth', hookId: hook.id, title: 'webhook secret or URL token configured', status: 'pass', detail: how });
  } else {
    add({
      id: 'webhook.auth',
      hookId: hook.id,
      title: 'webhook secret or URL token configured',
      status: 'fail',
      detail: 'webhooks are accepted without authentication (allowUnauthenticated): anyone who can reach the bridge can create GLPI tickets',
      fix: 'set CHATWOOT_WEBHOOK_SECRET to the secret Chatwoot shows for the webhook (Chatwoot >= 4.12), or CHATWOOT_WEBHOOK_TOKEN and add ?token=... to the webhook URL',
      code: 'WEBHOOK_UNAUTHENTICATED',
    });
  }
}
