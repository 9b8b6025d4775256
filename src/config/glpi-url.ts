import { ConfigError } from '../errors/index.js';

interface GlpiUrlCheck {
  /** Normalised base, always ending in `/` so relative paths keep `apirest.php`. */
  baseUrl: string;
  warnings: string[];
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

function isLocalOrPrivateHost(hostname: string): boolean {
  if (LOCAL_HOSTS.has(hostname) || hostname.endsWith('.localhost')) return true;
  // Service names on a compose/k8s network (no dot) and RFC 1918 addresses stay inside the host's network.
  if (!hostname.includes('.')) return true;
  return /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|127\.)/.test(hostname);
}

/**
 * Validates `GLPI_API_URL` against the mistakes people make: a missing `/apirest.php`, a trailing
 * slash, an endpoint pasted with the base, `http://` to a remote host (tokens in clear text).
 */
export function checkGlpiApiUrl(raw: string): GlpiUrlCheck {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    // The text is not echoed: it could be a token pasted into the wrong variable.
    throw new ConfigError('GLPI_API_URL is not a URL', 'set it to the full API address, e.g. https://glpi.example.com/apirest.php');
  }
  if (url.username !== '' || url.password !== '') {
    // Credentials in the URL would travel into error messages and ticket links posted to Chatwoot,
    // and GLPI's API ignores them anyway: it authenticates with the user token.
    throw new ConfigError(
      'GLPI_API_URL contains a user name or password',
      'remove "user:password@" from the URL; the bridge authenticates with GLPI_USER_TOKEN (and GLPI_APP_TOKEN)',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`GLPI_API_URL must use http:// or https:// (it uses ${url.protocol})`, 'e.g. https://glpi.example.com/apirest.php');
  }
  // What messages may show: no query string (people paste ?app_token=...) and no credentials.
  const shown = `${url.origin}${url.pathname}`;
  const warnings: string[] = [];
  let path = url.pathname;
  if (path.length > 1 && path.endsWith('/')) {
    path = path.replace(/\/+$/, '');
    warnings.push('GLPI_API_URL ends with a slash; it was removed');
  }
  const endpoint = /\/(apirest\.php|api\.php\/v1)\/(.+)$/.exec(path);
  const named = endpoint?.[2];
  if (named !== undefined) {
    throw new ConfigError(
      `GLPI_API_URL "${shown}" includes the endpoint "${named}"`,
      `use the API base only: ${url.origin}${path.slice(0, path.length - named.length - 1)}`,
    );
  }
  if (!/\/(apirest\.php|api\.php\/v1)$/.test(path)) {
    throw new ConfigError(
      `GLPI_API_URL "${shown}" does not end with /apirest.php`,
      `GLPI's REST API lives at the GLPI root: try ${url.origin}${path === '/' ? '' : path}/apirest.php`,
    );
  }
  if (url.protocol === 'http:' && !isLocalOrPrivateHost(url.hostname)) {
    warnings.push(
      `GLPI_API_URL uses http:// to ${url.hostname}: the user token and session travel in clear text; use https://`,
    );
  }
  url.pathname = `${path}/`;
  url.search = '';
  url.hash = '';
  return { baseUrl: url.toString(), warnings };
}
