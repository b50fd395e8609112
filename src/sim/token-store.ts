/**
 * Keystone tokens issued by the simulator, checked on every Heat and Zaqar call.
 */
import { randomBytes } from 'node:crypto';

export interface SimToken {
  id: string;
  issuedAtMs: number;
  expiresAtMs: number;
  auditId: string;
}

export class TokenStore {
  private readonly tokens = new Map<string, SimToken>();

  constructor(
    private readonly now: () => number,
    /** @defaultValue 3_600_000 (Keystone's default token expiration) */
    readonly ttlMs = 3_600_000,
  ) {}

  issue(): SimToken {
    // Fernet-looking opaque strings; their content means nothing to clients.
    const id = `gAAAAA${randomBytes(60).toString('base64url')}`;
    const issuedAtMs = this.now();
    const token: SimToken = {
      id,
      issuedAtMs,
      expiresAtMs: issuedAtMs + this.ttlMs,
      auditId: randomBytes(16).toString('base64url').slice(0, 22),
    };
    this.tokens.set(id, token);
    return token;
  }

  /** The token if it is known and still valid (also under early expiry). */
  validate(id: string | undefined, earlyExpiryMs?: number): SimToken | undefined {
    if (!id) return undefined;
    const token = this.tokens.get(id);
    if (!token) return undefined;
    const now = this.now();
    if (now >= token.expiresAtMs) return undefined;
    if (earlyExpiryMs !== undefined && now - token.issuedAtMs >= earlyExpiryMs) return undefined;
    return token;
  }

  revokeAll(): void {
    this.tokens.clear();
  }
}
