import { parseChatwootEvent, type ChatwootEvent } from '../../chatwoot/events.js';
import type { HookConfig } from '../../config/schema.js';
import type { ProfileInterfaceCache } from '../../glpi/profiles.js';
import type { JobContext } from '../context.js';
import { registered, type UseCase, type UseCaseOutcome } from '../use-case.js';
import { changesIdentity, contactChanged } from './contact-changed.js';
import type { SyncContext, SyncHooks } from './context.js';
import { conversationChanged } from './conversation-changed.js';
import { messageCreated, readMessageContextAhead } from './message-created.js';

type EventName = ChatwootEvent['event'];
type EventOf<N extends EventName> = Extract<ChatwootEvent, { event: N }>;

/**
 * The Chatwoot -> GLPI use cases by webhook event name. Every one skips the bridge's own writes
 * coming back (echoes) before it takes the lock.
 */
export function chatwootToGlpiUseCases(hooks: SyncHooks, profiles: ProfileInterfaceCache): [string, UseCase<unknown>][] {
  function on<N extends EventName>(
    name: N,
    run: (ctx: SyncContext, event: EventOf<N>) => Promise<UseCaseOutcome>,
    noWork?: (event: EventOf<N>) => string | undefined,
    readAhead?: UseCase<EventOf<N>>['readAhead'],
  ): [string, UseCase<unknown>] {
    const useCase: UseCase<EventOf<N>> = {
      parse(payload) {
        const parsed = parseChatwootEvent(payload);
        if (!parsed.ok) return parsed;
        return parsed.event.event === name ? { ok: true, event: parsed.event as EventOf<N> } : { ok: false, error: `the payload is a ${parsed.event.event}` };
      },
      async skip(event: EventOf<N>, hook: HookConfig) {
        if (await hooks.isOwnEcho?.(event, hook)) return 'own echo';
        return noWork?.(event);
      },
      run: (ctx: JobContext, event: EventOf<N>) => run({ ...ctx, hooks, profiles }, event),
      ...(readAhead ? { readAhead } : {}),
    };
    return [name, registered(useCase)];
  }
  // contact_updated fires on every incoming message (last_activity_at) and on attribute writes.
  const noIdentityChange = (event: EventOf<'contact_updated'>) => (changesIdentity(event) ? undefined : 'no identity change');
  return [
    on('contact_created', contactChanged),
    on('contact_updated', contactChanged, noIdentityChange),
    on('conversation_created', conversationChanged),
    on('conversation_updated', conversationChanged),
    on('conversation_status_changed', conversationChanged),
    on('message_created', messageCreated, (event) => (event.message_type === 'activity' ? 'activity message' : undefined), readMessageContextAhead),
  ];
}
