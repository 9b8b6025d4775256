import { Agent, request } from 'undici';

/**
 * Reads a real GLPI's state back for the end-to-end stories, on its own session and without the
 * bridge's client: what the stories assert must not depend on the code under test decoding it.
 * Every read is unsanitized (`X-GLPI-Sanitized-Content: false`, honoured by 10.x; 11.x stores and
 * returns text raw anyway), so GLPI hands back exactly what it stores for the technician's screen.
 * The session token only travels in the `Session-Token` header (11.0.8 answers 500 to a query string one).
 */
export interface GlpiReader {
  get<T = Record<string, unknown>>(path: string): Promise<T>;
  /** Raw bytes of a document (`?alt=media`). */
  download(documentId: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface RealGlpiEnv {
  url: string;
  appToken: string;
  userToken: string;
  /** GLPI_TEST_SELF_SERVICE_TOKEN: a user with the Self-Service profile, when the kit gives one. */
  selfServiceToken: string | undefined;
  /** GLPI_TEST_VERSION from the kit's env file, for messages only. */
  version: string;
}

/** The real GLPI the stories run against, or undefined when GLPI_TEST_* are not all set. */
export function realGlpiEnv(env: NodeJS.ProcessEnv = process.env): RealGlpiEnv | undefined {
  const url = env.GLPI_TEST_URL;
  const appToken = env.GLPI_TEST_APP_TOKEN;
  const userToken = env.GLPI_TEST_USER_TOKEN;
  if (!url || !appToken || !userToken) return undefined;
  return { url: url.replace(/\/+$/, ''), appToken, userToken, selfServiceToken: env.GLPI_TEST_SELF_SERVICE_TOKEN || undefined, version: env.GLPI_TEST_VERSION ?? 'unknown version' };
}

export async function openGlpiReader(target: RealGlpiEnv): Promise<GlpiReader> {
  const agent = new Agent({ connect: { timeout: 10_000 } });
  const base = `${target.url}/`;
  const call = async (path: string, headers: Record<string, string>) => {
    const res = await request(new URL(path.replace(/^\/+/, ''), base), {
      method: 'GET',
      dispatcher: agent,
      headers: { 'app-token': target.appToken, 'x-glpi-sanitized-content': 'false', ...headers },
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    // Status and path only: the answer of initSession carries the session token.
    if (res.statusCode >= 300) throw new Error(`GLPI GET ${path.split('?')[0] ?? path}: HTTP ${res.statusCode} ${path.includes('initSession') ? '' : body.toString('utf8').slice(0, 300)}`);
    return body;
  };
  const session = JSON.parse((await call('initSession', { authorization: `user_token ${target.userToken}` })).toString('utf8')) as { session_token?: unknown };
  if (typeof session.session_token !== 'string') throw new Error('GLPI initSession answered without a session_token');
  const sessionToken = session.session_token;
  return {
    async get<T>(path: string): Promise<T> {
      return JSON.parse((await call(path, { 'session-token': sessionToken })).toString('utf8')) as T;
    },
    download(documentId: number) {
      return call(`Document/${documentId}?alt=media`, { 'session-token': sessionToken, accept: 'application/octet-stream' });
    },
    async close() {
      await call('killSession', { 'session-token': sessionToken }).catch(() => undefined);
      await agent.close();
    },
  };
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/**
 * What a technician reads in a rich-text field: paragraphs and `<br>` as line breaks, tags gone,
 * entities decoded ONCE (as a browser does). A double-escaped `&amp;lt;` therefore shows up as
 * `&lt;`, and live markup the customer typed would lose its tags: both fail an exact comparison.
 */
export function visibleText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/p>\s*<p[^>]*>/gi, '\n\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
      if (name.startsWith('#x') || name.startsWith('#X')) return String.fromCodePoint(parseInt(name.slice(2), 16));
      if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
      return NAMED_ENTITIES[name.toLowerCase()] ?? whole;
    })
    .trim();
}
