import type { CustomerKind } from './mapping-records.js';

/** The Redis keys of one hook's records under `root` (`redisKeys(prefix).mapping(hookId)`; see mapping-store.ts). */
export interface MappingKeys {
  contact(contactId: number): string;
  conv(conversationId: number): string;
  msgs(conversationId: number): string;
  /** An agent's cached GLPI user, by the address as Chatwoot may write it (case and spaces fold). */
  agent(email: string): string;
  created(kind: CustomerKind): string;
  tz(): string;
  tickets(): string;
}

export function mappingKeys(root: string): MappingKeys {
  return {
    contact: (contactId) => `${root}:contact:${contactId}`,
    conv: (conversationId) => `${root}:conv:${conversationId}`,
    msgs: (conversationId) => `${root}:msgs:${conversationId}`,
    agent: (email) => `${root}:agent:${email.trim().toLowerCase()}`,
    created: (kind) => `${root}:created:${kind}`,
    tz: () => `${root}:tz`,
    tickets: () => `${root}:tickets`,
  };
}
