import { describe, expect, it } from 'vitest';
import { loginFor } from '../../../src/sync/chatwoot-to-glpi/customers.js';

/**
 * The login of a GLPI user the bridge creates. Real GLPI 10.0.3 refuses `+`, `&` and `/` in a login
 * ("The login is not valid"), which failed every job of a plus-addressed customer in user mode; the
 * end-to-end story in test/real-glpi/ checks the same against the real servers.
 */
describe('loginFor', () => {
  const identity = (email: string | undefined, phone?: string) => ({ email, phone, name: undefined });

  it('is the e-mail when GLPI 10 accepts it as a login (letters of any script, digits, quote, @ . - _)', () => {
    expect(loginFor(7, identity("zoë.o'brien-x_y@example.com"))).toBe("zoë.o'brien-x_y@example.com");
  });

  it.each(['marie+support@example.org', 'o&co@example.com', 'a/b@example.com', 'x<b>@example.com', 'tab\t@example.com'])(
    'is a login of the bridge own for %j, never the e-mail altered into someone else\'s login',
    (email) => {
      expect(loginFor(7, identity(email))).toBe('chatwoot-contact-7');
      expect(loginFor(7, identity(email, '+33612345678'))).toBe('chatwoot-33612345678');
    },
  );
});
