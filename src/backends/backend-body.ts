/**
 * Reading backend bodies: media types, error messages from JSON or XML error documents,
 * JSON parsing and schema validation that fail as typed {@link UpstreamError}s, and time
 * normalisation.
 */
import { XMLParser } from 'fast-xml-parser';
import type { z } from 'zod';
import { UpstreamError } from '../errors.js';
import type { BackendResponse } from './backend-http.js';

/** Media type without parameters, lower-cased. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

export function isJsonType(contentType: string): boolean {
  const t = mediaType(contentType);
  return t === 'application/json' || t.endsWith('+json');
}

export function isXmlType(contentType: string): boolean {
  const t = mediaType(contentType);
  return t === 'application/xml' || t === 'text/xml' || t.endsWith('+xml');
}

const errorXmlParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false });

/**
 * The human message inside a backend error body: Heat's `{explanation, error: {message}}`,
 * keystonemiddleware's and Keystone's `{error: {message, title}}`, Deltacloud's
 * `<error><message>…</message></error>`. Undefined when the body is none of those.
 */
export function extractErrorMessage(body: Buffer, contentType: string): string | undefined {
  const text = body.toString('utf8');
  try {
    if (isJsonType(contentType) || /^\s*\{/.test(text)) {
      const doc = JSON.parse(text) as Record<string, unknown>;
      const err = doc.error;
      if (err && typeof err === 'object') {
        const e = err as Record<string, unknown>;
        const msg = [e.message, e.title].find((v) => typeof v === 'string' && v.length > 0);
        if (typeof msg === 'string') return msg;
      }
      if (typeof doc.explanation === 'string') return doc.explanation;
      if (typeof doc.message === 'string') return doc.message;
      if (typeof err === 'string') return err;
      return undefined;
    }
    if (isXmlType(contentType) || /^\s*<\?xml|^\s*<error[\s>]/.test(text)) {
      const doc = errorXmlParser.parse(text) as Record<string, unknown>;
      const err = doc.error as Record<string, unknown> | undefined;
      const msg = err?.message;
      if (typeof msg === 'string') return msg.trim();
    }
  } catch {
    // Not a structured error document; the caller keeps the raw snippet instead.
  }
  return undefined;
}

/**
 * Parses a JSON body, checking its media type first. A wrong type (an HTML page from a
 * proxy, say) is `content_type`; broken JSON is `parse`.
 */
export function parseJsonBody(res: BackendResponse, backend: string, call: string): unknown {
  if (!isJsonType(res.contentType)) {
    throw new UpstreamError(
      `${call}: expected application/json from backend ${backend}, got '${mediaType(res.contentType) || 'no content type'}'`,
      { backend, reason: 'content_type', upstreamStatus: res.status, body: res.body },
    );
  }
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch (err) {
    throw new UpstreamError(`${call}: backend ${backend} sent malformed JSON`, {
      backend,
      reason: 'parse',
      upstreamStatus: res.status,
      body: res.body,
    }, { cause: err });
  }
}

/** Validates a parsed body with a zod schema; a mismatch is `schema`, naming the first bad path. */
export function validateBody<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } },
  value: unknown,
  ctx: { backend: string; call: string; res: BackendResponse },
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue ? `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}` : 'invalid';
  throw new UpstreamError(`${ctx.call}: backend ${ctx.backend} answered an unexpected document (${where})`, {
    backend: ctx.backend,
    reason: 'schema',
    upstreamStatus: ctx.res.status,
    body: ctx.res.body,
  });
}

/**
 * Normalises a backend timestamp to ISO-8601 UTC. Heat (and Nova before microversions)
 * print offset-less times such as `2015-01-21T12:39:21` that are UTC by convention; those
 * get a `Z`. Unparseable values become `null`, never a guess.
 */
export function toIsoUtc(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const text = String(raw).trim();
  if (!text) return null;
  const hasZone = /(?:[zZ]|[+-]\d{2}:?\d{2})$/.test(text);
  const candidate = hasZone ? text : `${text.replace(' ', 'T')}Z`;
  const ms = Date.parse(candidate);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}
