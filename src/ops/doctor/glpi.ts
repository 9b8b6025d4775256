import type { HookConfig } from '../../config/schema.js';
import { DEFAULTS } from '../../config/defaults.js';
import { hasCode, isGlpiError } from '../../errors/index.js';
import { createGlpiClient, type GlpiClientHandle } from '../../glpi/client.js';
import { glpiMajor } from '../../glpi/glpi-version.js';
import { requiredRights } from './glpi-rights.js';
import { entityCheck, itemCheck, privilegeCheck, readActiveProfile, rightsChecks, titleOf } from './glpi-access.js';
import { glpiWebhookCheck } from './glpi-webhook.js';
import { failure, type Add, type DoctorDeps } from './types.js';

// ---- GLPI ------------------------------------------------------------------------------------

const SESSION_STEPS = [
  { id: 'glpi.reachable', title: 'GLPI reachable (network, TLS, answers as GLPI)' },
  { id: 'glpi.api-enabled', title: 'GLPI REST API enabled' },
  { id: 'glpi.api-client', title: "a GLPI API client allows the bridge's address" },
  { id: 'glpi.app-token', title: 'GLPI app token valid' },
  { id: 'glpi.user-token', title: 'GLPI user token valid' },
] as const;

/** Which session step an initSession failure belongs to. */
function failedStep(err: unknown): (typeof SESSION_STEPS)[number]['id'] {
  if (hasCode(err, 'GLPI_API_DISABLED')) return 'glpi.api-enabled';
  if (hasCode(err, 'ERROR_NOT_ALLOWED_IP')) return 'glpi.api-client';
  if (hasCode(err, 'ERROR_APP_TOKEN_PARAMETERS_MISSING') || hasCode(err, 'ERROR_WRONG_APP_TOKEN_PARAMETER')) return 'glpi.app-token';
  if (isGlpiError(err) && err.category === 'auth') return 'glpi.user-token';
  return 'glpi.reachable';
}

export async function glpiChecks(hook: HookConfig, deps: DoctorDeps, add: Add): Promise<void> {
  const now = deps.now ?? Date.now;
  const client: GlpiClientHandle = createGlpiClient({ ...hook.glpi, hookId: hook.id }, { dispatcher: deps.glpiDispatcher });
  try {
    const started = now();
    let sessionError: unknown;
    try {
      await client.ensureSession();
    } catch (err) {
      sessionError = err;
    }
    const elapsedMs = now() - started;
    const failedAt = sessionError === undefined ? undefined : SESSION_STEPS.findIndex((s) => s.id === failedStep(sessionError));
    SESSION_STEPS.forEach((step, index) => {
      if (failedAt === undefined || index < failedAt) {
        const slow = step.id === 'glpi.reachable' && elapsedMs > (deps.slowGlpiMs ?? DEFAULTS.doctorSlowGlpiMs);
        add({
          id: step.id,
          hookId: hook.id,
          title: step.title,
          status: slow ? 'warn' : 'pass',
          detail: step.id === 'glpi.reachable' ? `initSession answered in ${Math.round(elapsedMs)} ms` : 'accepted',
          ...(slow ? { fix: "GLPI is slow to open a session: check its server's load and database (cgb_glpi_call_duration_seconds shows it over time)" } : {}),
        });
      } else if (index === failedAt) {
        add(failure(step.id, hook.id, step.title, sessionError));
      } else {
        add({ id: step.id, hookId: hook.id, title: step.title, status: 'skip', detail: 'not checked: GLPI refused an earlier step' });
      }
    });
    if (sessionError !== undefined) {
      for (const req of requiredRights(hook.glpi.syncType)) {
        add({ id: `glpi.rights.${req.label.toLowerCase()}`, hookId: hook.id, title: `profile rights on ${req.label}`, status: 'skip', detail: 'not checked: no GLPI session' });
      }
      for (const id of ['glpi.version', 'glpi.privileges', 'glpi.entity', 'glpi.category', 'glpi.default-user']) {
        add({ id, hookId: hook.id, title: titleOf(id, hook), status: 'skip', detail: 'not checked: no GLPI session' });
      }
      return;
    }
    versionCheck(hook, client, add);
    const active = await readActiveProfile(client);
    await rightsChecks(hook, client, add, active);
    privilegeCheck(hook, active, add);
    await entityCheck(hook, client, add);
    await itemCheck(hook, client, add, 'glpi.category', 'ITILCategory', hook.glpi.categoryId, 'GLPI_CATEGORY_ID');
    await itemCheck(hook, client, add, 'glpi.default-user', 'User', hook.glpi.defaultUserId, 'GLPI_DEFAULT_USER_ID');
    const webhook = await glpiWebhookCheck(hook, client);
    if (webhook !== undefined) add(webhook);
  } finally {
    // Doctor opens a session of its own: end it so GLPI's session list stays clean.
    await client.close().catch(() => undefined);
  }
}

/** GLPI releases the bridge was verified with (README, "Supported GLPI versions"). */
const VERIFIED_GLPI = /^(10|11)\.0\.\d+$/;

/**
 * The version GLPI reported when the session opened, and what differs for the bridge on it.
 * The client already adapts (see client.ts); this tells the operator which behaviour applies.
 */
function versionCheck(hook: HookConfig, client: GlpiClientHandle, add: Add): void {
  const id = 'glpi.version';
  const title = titleOf(id, hook);
  const version = client.glpiVersion;
  if (version === undefined) {
    add({
      id,
      hookId: hook.id,
      title,
      status: 'warn',
      detail: 'GLPI did not tell its version (getGlpiConfig refused or unreadable): search answers are decoded as GLPI 10 does',
      fix: "check that the bridge's GLPI user may call getGlpiConfig (any profile can by default) and that nothing between the bridge and GLPI rewrites API answers",
    });
    return;
  }
  const text =
    glpiMajor(version) >= 11
      ? 'stores text as written (search answers read as they come); session token sent only in the Session-Token header; apirest.php and api.php/v1 both work'
      : 'stores text HTML-encoded (items read back with X-GLPI-Sanitized-Content: false, search answers decoded once); let the X-GLPI-Sanitized-Content, Session-Token and App-Token headers through any proxy';
  add(
    VERIFIED_GLPI.test(version)
      ? { id, hookId: hook.id, title, status: 'pass', detail: `GLPI ${version}: ${text}` }
      : {
          id,
          hookId: hook.id,
          title,
          status: 'warn',
          detail: `GLPI ${version} is not a version the bridge was verified with (10.0.x, 11.0.x); handled like GLPI ${glpiMajor(version) >= 11 ? '11' : '10'}: ${text}`,
          fix: 'send a test conversation with <b>, & and quotes and check the ticket shows them as written; report the version if it does not',
        },
  );
}
