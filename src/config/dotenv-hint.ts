import { existsSync } from 'node:fs';

/**
 * A first `npm start` without `.env` said only "GLPI_API_URL: is required". When neither `.env`
 * nor HOOKS_FILE is there, a configuration error also says where to start.
 */
export function dotEnvHint(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): string | undefined {
  if (existsSync(`${cwd}/.env`) || (env.HOOKS_FILE ?? '') !== '') return undefined;
  return 'no .env in this directory: start from the example (cp .env.example .env) and fill in GLPI_API_URL, GLPI_USER_TOKEN and CHATWOOT_WEBHOOK_SECRET';
}
