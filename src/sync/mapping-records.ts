/** The records the mapping store keeps (see mapping-store.ts for the keys), and how they are read back. */

export type CustomerKind = 'user' | 'contact';

export interface CustomerRecord {
  /**
   * `email-only`: the GLPI user found for this identity may not be bound to a customer (binding
   * policy); the customer is the ticket's e-mail requester and `id` is 0.
   */
  kind: CustomerKind | 'email-only';
  id: number;
  /** What the GLPI record was last given, to tell a real change from noise. */
  email: string | undefined;
  phone: string | undefined;
  name: string | undefined;
  /**
   * `created` for a record the bridge created; else the binding settings it was bound or refused
   * under, so that a change of settings (or a mapping from before they existed) decides again.
   */
  policy?: string | undefined;
  /** When (ms) a job last saw this GLPI user exist; absent: never checked (see tickets.ts requesterFor). */
  checkedAt?: number | undefined;
}

export type ConversationStatusClass = 'open' | 'pending' | 'solved';

export interface TicketIntent {
  at: number;
  /** Message ids the ticket content was built from; recorded as "c" if the ticket is found. */
  contentIds: number[];
}

export interface ConversationRecord {
  ticketId: number | undefined;
  ticketIntent: TicketIntent | undefined;
  /** Last status class applied to GLPI (absent: the ticket is as created, i.e. open). */
  status: ConversationStatusClass | undefined;
  /** Conversation `updated_at` (s) of the snapshot that status came from; older snapshots are stale. */
  statusAt: number | undefined;
}

/** A conversation without a ticket (yet, or any more). */
export function emptyConversationRecord(): ConversationRecord {
  return { ticketId: undefined, ticketIntent: undefined, status: undefined, statusAt: undefined };
}

export type MessageSlot =
  | { state: 'none' }
  | { state: 'content' }
  | { state: 'followup'; followupId: number }
  | { state: 'intent'; at: number; documentIds: Record<string, number> };

/** `by`: a random value that makes the intent one job's own (an intent read ahead, mapping-store.ts). */
export function intentValue(at: number, documentIds: Record<string, number>, by?: string): string {
  return `?${JSON.stringify(by === undefined ? { at, documentIds } : { at, documentIds, by })}`;
}

export function num(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

export function parseConversation(hash: Record<string, string>): ConversationRecord {
  let ticketIntent: TicketIntent | undefined;
  if (hash.ticketIntent !== undefined) {
    try {
      const parsed = JSON.parse(hash.ticketIntent) as Partial<TicketIntent>;
      ticketIntent = { at: Number(parsed.at ?? 0), contentIds: Array.isArray(parsed.contentIds) ? parsed.contentIds.map(Number) : [] };
    } catch {
      ticketIntent = { at: 0, contentIds: [] };
    }
  }
  const status = hash.status;
  return {
    ticketId: num(hash.ticketId),
    ticketIntent,
    status: status === 'open' || status === 'pending' || status === 'solved' ? status : undefined,
    statusAt: num(hash.statusAt),
  };
}

export function parseSlot(raw: string | null): MessageSlot {
  if (raw === null) return { state: 'none' };
  if (raw === 'c') return { state: 'content' };
  if (raw.startsWith('?')) {
    try {
      const parsed = JSON.parse(raw.slice(1)) as { at?: number; documentIds?: Record<string, number> };
      return { state: 'intent', at: Number(parsed.at ?? 0), documentIds: parsed.documentIds ?? {} };
    } catch {
      return { state: 'intent', at: 0, documentIds: {} };
    }
  }
  const id = num(raw);
  return id === undefined ? { state: 'none' } : { state: 'followup', followupId: id };
}

export function parseCustomer(hash: Record<string, string>): CustomerRecord | undefined {
  const id = num(hash.id);
  if (id === undefined || (hash.kind !== 'user' && hash.kind !== 'contact' && hash.kind !== 'email-only')) return undefined;
  return { kind: hash.kind, id, email: hash.email, phone: hash.phone, name: hash.name, policy: hash.policy, checkedAt: num(hash.checkedAt) };
}
