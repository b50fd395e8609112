/**
 * Bearer-token authentication with roles. Tokens are compared as SHA-256 digests with
 * `timingSafeEqual`, and every configured token is compared on every request, so neither
 * the length nor the position of a match leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { Role } from '../config/schema.js';
import { AuthError } from '../errors.js';

export interface Principal {
  name: string;
  role: Role;
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Which roles may act as which: an admin may do what a client may. */
const GRANTS: Record<Role, readonly Role[]> = {
  client: ['client'],
  admin: ['admin', 'client'],
  backend: ['backend'],
};

export class Authenticator {
  private tokens: { digest: Buffer; principal: Principal }[] = [];

  constructor(tokens: { name: string; token: string; role: Role }[]) {
    this.update(tokens);
  }

  /** Replaces the token set (config reload). */
  update(tokens: { name: string; token: string; role: Role }[]): void {
    this.tokens = tokens.map((t) => ({ digest: digest(t.token), principal: { name: t.name, role: t.role } }));
  }

  /** The principal a bearer token belongs to, or undefined. Constant time in the token. */
  identify(token: string): Principal | undefined {
    const candidate = digest(token);
    let found: Principal | undefined;
    for (const t of this.tokens) {
      if (timingSafeEqual(t.digest, candidate)) found = t.principal;
    }
    return found;
  }

  /** The principal of a request's `Authorization: Bearer` header, or undefined. */
  fromRequest(req: Pick<IncomingMessage, 'headers'>): Principal | undefined {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    return match?.[1] ? this.identify(match[1]) : undefined;
  }

  /** True when `principal`'s role grants one of `roles`. */
  static allows(principal: Principal, roles: readonly Role[]): boolean {
    return roles.some((role) => GRANTS[principal.role].includes(role));
  }

  /** Middleware: 401 without a valid token, 403 when the token's role does not grant `role`. */
  require(...roles: Role[]): RequestHandler {
    return (req, res, next) => {
      const principal = this.fromRequest(req);
      if (!principal) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="heat-gateway"');
        next(new AuthError(req.headers.authorization ? 'the bearer token is not valid' : 'send Authorization: Bearer <token>', 401));
        return;
      }
      if (!Authenticator.allows(principal, roles)) {
        next(new AuthError(`role '${principal.role}' may not do this; it needs ${roles.join(' or ')}`, 403));
        return;
      }
      req.principal = principal;
      next();
    };
  }
}
