import type { HookConfig } from '../../config/schema.js';
import { errorCode } from '../../errors/index.js';
import { glpiMajor } from '../../glpi/glpi-version.js';
import type { GlpiClient } from '../../glpi/types.js';
import type { DoctorCheck } from './types.js';

/**
 * GLPI 11 with GLPI_TO_CHATWOOT: is there an active GLPI webhook to this hook's route? Only a
 * warning either way: without one, answers arrive at the next poll. Reading webhooks needs Setup
 * rights, which the bridge's own user should not have; then the operator is told where to look.
 */
export async function glpiWebhookCheck(hook: HookConfig, client: Pick<GlpiClient, 'listItems' | 'glpiVersion'>): Promise<DoctorCheck | undefined> {
  if (!hook.glpiToChatwoot.enabled || glpiMajor(client.glpiVersion) < 11) return undefined;
  const id = 'glpi.webhook';
  const title = 'GLPI 11 webhook to the bridge (GLPI_TO_CHATWOOT)';
  const route = `/webhooks/glpi/${hook.id}`;
  const setup = `in GLPI, Setup > Webhooks: URL https://<bridge>${route}, the secret of GLPI_WEBHOOK_SECRET, events Followup/New, Solution/New, Ticket/Update (README, "GLPI back to Chatwoot")`;
  let webhooks;
  try {
    webhooks = await client.listItems('Webhook');
  } catch (err) {
    return { id, hookId: hook.id, title, status: 'warn', detail: `could not read GLPI's webhooks (${errorCode(err)}; it needs Setup rights): answers arrive at the next poll unless one exists`, fix: `check by hand: ${setup}` };
  }
  const ours = webhooks.filter((w) => typeof w.url === 'string' && w.url.replace(/\/+$/, '').endsWith(route) && Number(w.is_active) === 1);
  if (ours.length === 0) {
    return { id, hookId: hook.id, title, status: 'warn', detail: `no active GLPI webhook to ${route}: answers arrive at the next poll (every ${hook.glpiToChatwoot.pollIntervalMs} ms)`, fix: setup };
  }
  if (hook.glpiToChatwoot.webhookSecrets.length === 0) {
    return { id, hookId: hook.id, title, status: 'warn', detail: `${ours.length} GLPI webhook(s) to ${route}, but GLPI_WEBHOOK_SECRET is not set: the bridge answers them 404`, fix: 'set GLPI_WEBHOOK_SECRET to the webhooks\' secret' };
  }
  const events = ours.map((w) => `${String(w.itemtype)}/${String(w.event)}`).join(', ');
  return { id, hookId: hook.id, title, status: 'pass', detail: `active: ${events}` };
}
