/**
 * `npm run glpi-sim`: a GLPI simulator on PORT (default 8088) for trying the bridge by hand,
 * behaving like GLPI 10.0.3 or, with GLPI_SIM_VERSION=11.0.8, like GLPI 11.0.8.
 * State lives in memory and is gone when the process stops.
 */
import { request } from 'undici';
import { SIM_GLPI_VERSIONS, startGlpiSimulator, type SimGlpiVersion } from './index.js';

const port = Number(process.env.PORT ?? 8088);
const appToken = process.env.GLPI_SIM_APP_TOKEN ?? null;
const wanted = process.env.GLPI_SIM_VERSION ?? '10.0.3';
if (!(SIM_GLPI_VERSIONS as readonly string[]).includes(wanted)) {
  console.error(`GLPI_SIM_VERSION must be one of ${SIM_GLPI_VERSIONS.join(', ')}`);
  process.exit(2);
}
const version = wanted as SimGlpiVersion;
const sim = await startGlpiSimulator({ port, appToken, version, latencyMs: Number(process.env.GLPI_SIM_LATENCY_MS ?? 0) });

/** Seeds through the API itself, so the data look exactly as if an admin had created them. */
async function seed(): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (appToken) headers['app-token'] = appToken;
  const init = await request(`${sim.url}initSession`, { headers: { ...headers, authorization: 'user_token admin-user-token' } });
  const { session_token: token } = (await init.body.json()) as { session_token: string };
  const post = async (itemtype: string, input: Record<string, unknown>) => {
    const res = await request(`${sim.url}${itemtype}`, { method: 'POST', headers: { ...headers, 'session-token': token }, body: JSON.stringify({ input }) });
    await res.body.dump();
  };
  await post('Entity', { name: 'Support', entities_id: 0 });
  await post('Entity', { name: 'Sales', entities_id: 0 });
  await post('ITILCategory', { name: 'Chat' });
  await post('ITILCategory', { name: 'WhatsApp', itilcategories_id: 1 });
  await request(`${sim.url}killSession`, { headers: { ...headers, 'session-token': token } }).then((r) => r.body.dump());
  sim.resetCalls();
}

await seed();
console.log(`GLPI ${sim.version} simulator listening on ${sim.url}`);
console.log(`  GLPI_API_URL=${sim.url.replace(/\/$/, '')}`);
console.log(`  App-Token: ${appToken ?? '(none required; set GLPI_SIM_APP_TOKEN to require one)'}`);
console.log('  user tokens: admin-user-token (user 2 "glpi", Super-Admin), selfservice-user-token (user 5 "post-only", Self-Service)');
console.log(`  entities: ${sim.state.entities.map((e) => `${e.id} ${String(e.completename)}`).join(', ')}`);
console.log(`  ITIL categories: ${sim.state.categories.map((c) => `${c.id} ${String(c.completename)}`).join(', ')}`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping the GLPI simulator`);
  await sim.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
