import { Agent, interceptors, request, type Dispatcher } from 'undici';
import type { ChatwootAttachment } from './events.js';
import type { HookConfig } from '../config/schema.js';
import type { UploadFile } from '../glpi/types.js';
import { attachmentName } from '../sync/html.js';

export interface AttachmentFetcherOptions {
  /** Files above this stay links in GLPI (GLPI's own upload limit is usually 2-20 MB). */
  maxBytes?: number;
  timeoutMs?: number;
  /** Tests inject a MockAgent or point at a local server. */
  dispatcher?: Dispatcher;
}

export interface AttachmentFetcher {
  fetch(hook: HookConfig, attachment: ChatwootAttachment): Promise<UploadFile | undefined>;
  close(): Promise<void>;
}

const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;

/**
 * Downloads a Chatwoot attachment so it can become a GLPI Document. `data_url` is an ActiveStorage
 * redirect (to the app or to object storage), so redirects are followed. Only http(s) URLs from an
 * authenticated hook are fetched (the URL comes from a payload Chatwoot signed); anything else,
 * or a file over `maxBytes`, returns undefined and stays a link in the followup.
 */
export function createAttachmentFetcher(options: AttachmentFetcherOptions = {}): AttachmentFetcher {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const base = options.dispatcher ?? new Agent({ connect: { timeout: 10_000 } });
  const dispatcher = base.compose(interceptors.redirect({ maxRedirections: 5 }));

  return {
    async fetch(hook, attachment) {
      const url = attachment.data_url;
      if (url === null || !/^https?:\/\//.test(url)) return undefined;
      if (hook.chatwoot.webhookSecrets.length === 0 && hook.chatwoot.webhookToken === undefined) return undefined;
      if (attachment.file_size !== undefined && attachment.file_size !== null && attachment.file_size > maxBytes) return undefined;
      const res = await request(url, { method: 'GET', dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`attachment ${attachment.id}: HTTP ${res.statusCode}`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          res.body.destroy();
          return undefined;
        }
        chunks.push(chunk as Buffer);
      }
      const header = res.headers['content-type'];
      const contentType = attachment.content_type ?? (typeof header === 'string' ? header.split(';')[0] : undefined) ?? 'application/octet-stream';
      return { filename: attachmentName(attachment), contentType, data: Buffer.concat(chunks) };
    },
    async close() {
      if (options.dispatcher === undefined) await base.close();
    },
  };
}
