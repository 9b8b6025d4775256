/**
 * One GLPI session per hook, shared by every job of that hook.
 *
 * GLPI sessions are plain PHP sessions that expire after `session.gc_maxlifetime` of inactivity
 * (1440 s by default), which GLPI reports as 401 ERROR_SESSION_TOKEN_INVALID. With many jobs in
 * flight, all of them see the expiry at once; if each logged in again we would open a session per
 * job (and GLPI keeps each one until GC). So logins are single-flight: whoever needs a session while
 * a login is running waits for that login, and `renew(stale)` only logs in when the caller's token
 * is still the current one; a caller holding an older token gets the session someone else already
 * renewed. The retry policy (renew once, replay once, never loop) lives in the client.
 */
export class GlpiSession {
  private token: string | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly login: () => Promise<string>,
    private readonly logout: (token: string) => Promise<void>,
  ) {}

  /** The cached session token, logging in first if there is none. */
  get(): Promise<string> {
    if (this.token !== undefined) return Promise.resolve(this.token);
    return this.startLogin();
  }

  /** A session newer than `stale`: the current one if someone already renewed, else a new login. */
  renew(stale: string): Promise<string> {
    if (this.token !== undefined && this.token !== stale) return Promise.resolve(this.token);
    if (this.token === stale) this.token = undefined;
    return this.startLogin();
  }

  /** Ends the session at GLPI (waiting for a running login first, so it is not leaked). */
  async kill(): Promise<void> {
    if (this.pending) await this.pending.catch(() => undefined);
    const token = this.token;
    this.token = undefined;
    if (token !== undefined) await this.logout(token);
  }

  get hasSession(): boolean {
    return this.token !== undefined;
  }

  private startLogin(): Promise<string> {
    // A failed login is not cached: the promise is dropped, so the next caller tries again
    // (after the job-level backoff), while the callers that waited on it all get its error.
    this.pending ??= this.login()
      .then((token) => {
        this.token = token;
        return token;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}
