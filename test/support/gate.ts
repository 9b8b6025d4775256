/**
 * Holds the first call that reaches it until the test lets it go, so that a test can act while a
 * job is inside a slow GLPI or Chatwoot call, without depending on time: `await gate.reached`, act,
 * `gate.release()`.
 */
export interface Gate {
  /** Waits until release() for the first caller; returns at once for every later one. */
  pass(): Promise<void>;
  /** Resolves when the first caller has reached the gate. */
  readonly reached: Promise<void>;
  release(): void;
}

export function gate(): Gate {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let reach!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  let armed = true;
  return {
    async pass() {
      if (!armed) return;
      armed = false;
      reach();
      await released;
    },
    reached,
    release,
  };
}
