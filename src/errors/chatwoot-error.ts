import { BridgeError } from './bridge-error.js';
import type { ChatwootCode } from './chatwoot-codes.js';

/** Every failure of the Chatwoot API client; disposition and advice come from the catalogue. */
export class ChatwootError extends BridgeError {
  readonly endpoint: string | undefined;

  constructor(code: ChatwootCode, message: string, options: { status?: number; endpoint?: string; cause?: unknown } = {}) {
    const { endpoint, ...rest } = options;
    super(code, message, rest);
    this.name = 'ChatwootError';
    this.endpoint = endpoint;
  }
}
