/** What both webhook signature schemes (Chatwoot's and GLPI 11's) take and answer. */

type SignatureFailure = 'missing-headers' | 'malformed' | 'stale' | 'future' | 'mismatch';
export type VerifyResult = { ok: true } | { ok: false; reason: SignatureFailure };

export interface VerifyInput {
  rawBody: Buffer | string;
  signature: string | undefined;
  timestamp: string | undefined;
  /** Accepted secrets (rotation: new and old). */
  secrets: readonly string[];
  toleranceS: number;
  nowMs: number;
}
