/**
 * Who may push to `POST /v1/notifications/:backendId`: a bearer token with role backend (or
 * admin), the backend's `push.token` as a bearer or — for senders that cannot set headers,
 * like Aodh's REST alarm notifier — as `?token=`, or an HMAC-SHA256 of the raw body under
 * `push.signingSecret` (Zaqar-style subscriptions).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { BackendConfig } from '../config/schema.js';
import { AuthError } from '../errors.js';
import type { Authenticator } from '../http/auth.js';

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function authorizePush(auth: Authenticator, req: Request, backend: BackendConfig, queryToken?: string): void {
  const principal = auth.fromRequest(req);
  if (principal?.role === 'backend' || principal?.role === 'admin') return;
  const push = backend.push;
  if (queryToken !== undefined) {
    const byQuery = auth.identify(queryToken);
    if (byQuery?.role === 'backend' || byQuery?.role === 'admin') return;
    if (push?.token && safeEqual(queryToken, push.token)) return;
    throw new AuthError('the token in the query is not this backend\'s push token nor a backend-role token', 401);
  }
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (push?.token && bearer && safeEqual(bearer, push.token)) return;
  const signature = push?.signingSecret ? req.headers[push.signatureHeader.toLowerCase()] : undefined;
  const raw = (req as { rawBody?: Buffer }).rawBody;
  if (push?.signingSecret && typeof signature === 'string' && raw) {
    const expected = createHmac('sha256', push.signingSecret).update(raw).digest('hex');
    if (safeEqual(signature.trim().toLowerCase().replace(/^sha256=/, ''), expected)) return;
    throw new AuthError(`the ${push.signatureHeader} signature does not match the body`, 401);
  }
  throw new AuthError('send a bearer token with role backend, the backend\'s push token (header or ?token=), or a signed body', 401);
}
