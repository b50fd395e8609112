/**
 * Deltacloud REST API client: the `/api` entry point and the instances collection, in XML
 * (Deltacloud's default representation) or JSON (by `Accept`), both mapped to the same
 * canonical instance. The two representations differ in more than syntax — JSON says
 * `owner` where XML says `owner_id`, some servers print `create_time` instead of
 * `launch_time`, and addresses are `{address, type}` objects in JSON but `<address>`
 * elements (with optional attributes) in XML; each is normalised before validation.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { z } from 'zod';
import { UpstreamError } from '../errors.js';
import type { DeltacloudBackendConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { InstanceObservation } from '../model/types.js';
import { mapDeltacloudState } from '../model/states.js';
import { DeltacloudXmlListParser } from './deltacloud-xml-list.js';
import {
  BackendHttp,
  type BackendObserver,
  type BackendResponse,
  isXmlType,
  mediaType,
  parseJsonBody,
  toIsoUtc,
  validateBody,
} from './backend-http.js';

/** An instance as Deltacloud reports it, before the gateway knows its deployment. */
export type DeltacloudInstanceObservation = Omit<InstanceObservation, 'deploymentId'> & {
  /** Fields the deltacloud-poll strategy may need beyond the canonical ones. */
  raw: {
    /** The cloud's instance name (the strategy derives the deployment from it). */
    name: string | null;
    ownerId: string | null;
    imageId: string | null;
    realmId: string | null;
    /** Launch time, ISO-8601 UTC (not the time of the last change). */
    launchTime: string | null;
    href: string | null;
  };
};

/** The `/api` entry point. */
export interface DeltacloudApiInfo {
  version: string | null;
  driver: string | null;
  provider: string | null;
  /** Collections the driver offers (`instances`, `images`, …) with their URLs. */
  links: { rel: string; href: string }[];
}

// ---------------------------------------------------------------------------------------
// The normalised form both representations are converted to, then validated.

const normalisedInstanceSchema = z.object({
  id: z.string().min(1),
  href: z.string().nullable(),
  name: z.string().nullable(),
  owner_id: z.string().nullable(),
  image_id: z.string().nullable(),
  realm_id: z.string().nullable(),
  state: z.string().nullable(),
  launch_time: z.string().nullable(),
  public_addresses: z.array(z.string()),
  private_addresses: z.array(z.string()),
});
type NormalisedInstance = z.infer<typeof normalisedInstanceSchema>;

// JSON representation (Deltacloud ≥ 1.0 `Instance#to_hash`).
const jsonRefSchema = z.union([z.string(), z.object({ id: z.string().nullish() })]).nullish();
const jsonAddressSchema = z.union([z.string(), z.object({ address: z.string().nullish(), type: z.string().nullish() })]);
const jsonInstanceSchema = z.object({
  id: z.string().min(1),
  href: z.string().nullish(),
  name: z.string().nullish(),
  owner: z.string().nullish(),
  owner_id: z.string().nullish(),
  image: jsonRefSchema,
  image_id: z.string().nullish(),
  realm: jsonRefSchema,
  realm_id: z.string().nullish(),
  state: z.string().nullish(),
  launch_time: z.string().nullish(),
  create_time: z.string().nullish(),
  public_addresses: z.array(jsonAddressSchema).nullish(),
  private_addresses: z.array(jsonAddressSchema).nullish(),
});
type JsonInstance = z.infer<typeof jsonInstanceSchema>;
const jsonListSchema = z.object({ instances: z.array(jsonInstanceSchema) });
const jsonShowSchema = z.object({ instance: jsonInstanceSchema });
const jsonApiSchema = z.object({
  api: z.object({
    version: z.string().nullish(),
    driver: z.string().nullish(),
    provider: z.string().nullish(),
    links: z.array(z.object({ rel: z.string(), href: z.string() })).nullish(),
  }),
});

// XML representation as fast-xml-parser yields it (attributes prefixed with `@_`, an
// element with attributes and text as `{#text, @_…}`, an empty element as '').
const xmlTextSchema = z
  .union([z.string(), z.object({ '#text': z.string().optional() })])
  .optional()
  .transform((v) => (v === undefined ? null : typeof v === 'string' ? v : (v['#text'] ?? null)));
const xmlRefSchema = z
  .union([z.literal(''), z.object({ '@_id': z.string().optional() })])
  .optional()
  .transform((v) => (v && typeof v === 'object' ? (v['@_id'] ?? null) : null));
const xmlAddressListSchema = z
  .union([z.literal(''), z.object({ address: z.array(z.union([z.string(), z.object({ '#text': z.string().optional() })])).optional() })])
  .optional()
  .transform((v) =>
    v && typeof v === 'object'
      ? (v.address ?? []).map((a) => (typeof a === 'string' ? a : (a['#text'] ?? ''))).map((a) => a.trim()).filter(Boolean)
      : [],
  );
const xmlInstanceSchema = z.object({
  '@_id': z.string().min(1),
  '@_href': z.string().optional(),
  name: xmlTextSchema,
  owner_id: xmlTextSchema,
  image: xmlRefSchema,
  realm: xmlRefSchema,
  state: xmlTextSchema,
  launch_time: xmlTextSchema,
  create_time: xmlTextSchema,
  public_addresses: xmlAddressListSchema,
  private_addresses: xmlAddressListSchema,
});
const xmlListSchema = z.object({
  instances: z.union([z.literal(''), z.object({ instance: z.array(xmlInstanceSchema).optional() })]),
});
const xmlShowSchema = z.object({ instance: xmlInstanceSchema });
const xmlApiSchema = z.object({
  api: z.object({
    '@_version': z.string().optional(),
    '@_driver': z.string().optional(),
    '@_provider': z.string().optional(),
    link: z.array(z.object({ '@_rel': z.string(), '@_href': z.string() })).optional(),
  }),
});

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Keep every value a string: ids such as 20112212 must not become numbers.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Lists that may hold one element or many are always arrays.
  isArray: (name, jpath, _leaf, isAttribute) =>
    !isAttribute &&
    (name === 'address' || name === 'link' || name === 'feature' || String(jpath) === 'instances.instance'),
});

function fromXmlInstance(x: z.infer<typeof xmlInstanceSchema>): NormalisedInstance {
  return {
    id: x['@_id'],
    href: x['@_href'] ?? null,
    name: x.name,
    owner_id: x.owner_id,
    image_id: x.image,
    realm_id: x.realm,
    state: x.state,
    launch_time: x.launch_time ?? x.create_time,
    public_addresses: x.public_addresses,
    private_addresses: x.private_addresses,
  };
}

function jsonAddresses(list: JsonInstance['public_addresses']): string[] {
  return (list ?? [])
    .map((a) => (typeof a === 'string' ? a : (a.address ?? '')))
    .map((a) => a.trim())
    .filter(Boolean);
}

function refId(ref: z.infer<typeof jsonRefSchema>): string | null {
  if (ref === null || ref === undefined) return null;
  return typeof ref === 'string' ? ref : (ref.id ?? null);
}

function fromJsonInstance(j: JsonInstance): NormalisedInstance {
  return {
    id: j.id,
    href: j.href ?? null,
    name: j.name ?? null,
    owner_id: j.owner ?? j.owner_id ?? null,
    image_id: refId(j.image) ?? j.image_id ?? null,
    realm_id: refId(j.realm) ?? j.realm_id ?? null,
    state: j.state ?? null,
    launch_time: j.launch_time ?? j.create_time ?? null,
    public_addresses: jsonAddresses(j.public_addresses),
    private_addresses: jsonAddresses(j.private_addresses),
  };
}

/** A normalised Deltacloud instance as a canonical observation (no deployment yet). */
export function toDeltacloudObservation(i: NormalisedInstance, backendId: string): DeltacloudInstanceObservation {
  return {
    id: i.id,
    name: i.name ?? '',
    state: mapDeltacloudState(i.state),
    backend: { id: backendId, kind: 'deltacloud', status: i.state },
    addresses: { public: [...new Set(i.public_addresses)], private: [...new Set(i.private_addresses)] },
    // Deltacloud reports when an instance was launched, never when it last changed.
    updatedAt: null,
    raw: {
      name: i.name,
      ownerId: i.owner_id,
      imageId: i.image_id,
      realmId: i.realm_id,
      launchTime: toIsoUtc(i.launch_time),
      href: i.href,
    },
  };
}

export interface DeltacloudClientOptions {
  logger: Logger;
  observer?: BackendObserver;
  retryBaseDelayMs?: number;
  random?: () => number;
}

/** Client of one Deltacloud server (one account, one driver/provider). */
export class DeltacloudClient {
  readonly kind = 'deltacloud' as const;
  readonly id: string;
  readonly http: BackendHttp;
  private readonly root: string;
  private readonly headers: Record<string, string>;

  constructor(
    readonly config: DeltacloudBackendConfig,
    options: DeltacloudClientOptions,
  ) {
    this.id = config.id;
    this.root = config.url.replace(/\/+$/, '');
    this.http = BackendHttp.forBackend(config, options);
    this.headers = {
      authorization: `Basic ${Buffer.from(`${config.username}:${config.password}`, 'utf8').toString('base64')}`,
      accept: config.format === 'json' ? 'application/json' : 'application/xml',
      ...(config.driver ? { 'x-deltacloud-driver': config.driver } : {}),
      ...(config.provider ? { 'x-deltacloud-provider': config.provider } : {}),
    };
  }

  /** The API entry point: version, driver, provider and collections. */
  async getApi(): Promise<DeltacloudApiInfo> {
    const call = 'deltacloud.getApi';
    const res = await this.get(call, this.root);
    if (this.config.format === 'json') {
      const doc = validateBody(jsonApiSchema, parseJsonBody(res, this.id, call), { backend: this.id, call, res });
      return {
        version: doc.api.version ?? null,
        driver: doc.api.driver ?? null,
        provider: doc.api.provider ?? null,
        links: (doc.api.links ?? []).map((l) => ({ rel: l.rel, href: l.href })),
      };
    }
    const doc = validateBody(xmlApiSchema, this.parseXml(res, call), { backend: this.id, call, res });
    return {
      version: doc.api['@_version'] ?? null,
      driver: doc.api['@_driver'] ?? null,
      provider: doc.api['@_provider'] ?? null,
      links: (doc.api.link ?? []).map((l) => ({ rel: l['@_rel'], href: l['@_href'] })),
    };
  }

  /**
   * Every instance of the account. The XML list is stream-parsed as it arrives (see
   * deltacloud-xml-list.ts); nothing reaches the caller unless the whole list parsed and
   * validated, so a truncated answer never half-updates the cache.
   */
  async listInstances(): Promise<DeltacloudInstanceObservation[]> {
    const call = 'deltacloud.listInstances';
    const url = `${this.root}/instances`;
    if (this.config.format === 'json') {
      const res = await this.get(call, url);
      return validateBody(jsonListSchema, parseJsonBody(res, this.id, call), { backend: this.id, call, res }).instances.map((j) =>
        toDeltacloudObservation(validateBody(normalisedInstanceSchema, fromJsonInstance(j), { backend: this.id, call, res }), this.id),
      );
    }
    return this.http.streamGet({ call, url, headers: this.headers }, async (chunks, contentType, status) => {
      const fail = (reason: 'parse' | 'schema' | 'content_type', message: string) =>
        new UpstreamError(`${call}: ${message}`, { backend: this.id, reason, upstreamStatus: status });
      if (!isXmlType(contentType)) throw fail('content_type', `expected application/xml from backend ${this.id}, got '${mediaType(contentType) || 'no content type'}'`);
      const out: DeltacloudInstanceObservation[] = [];
      let invalid: string | undefined;
      const parser = new DeltacloudXmlListParser((listed) => {
        const checked = normalisedInstanceSchema.safeParse(listed);
        if (!checked.success) {
          const issue = checked.error.issues[0];
          invalid ??= `instance ${out.length}: ${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`;
          return;
        }
        out.push(toDeltacloudObservation(checked.data, this.id));
      });
      const decoder = new TextDecoder('utf-8');
      try {
        for await (const chunk of chunks) parser.write(decoder.decode(chunk, { stream: true }));
        parser.write(decoder.decode());
        parser.end();
      } catch (err) {
        if (err instanceof UpstreamError) throw err;
        throw fail('parse', `backend ${this.id} sent malformed XML (${(err as Error).message.split('\n')[0]})`);
      }
      if (invalid) throw fail('schema', `backend ${this.id} answered an unexpected document (${invalid})`);
      return out;
    });
  }

  /** One instance; `null` when Deltacloud answers 404 with its own error document. */
  async getInstance(id: string): Promise<DeltacloudInstanceObservation | null> {
    const call = 'deltacloud.getInstance';
    let res: BackendResponse;
    try {
      res = await this.get(call, `${this.root}/instances/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof UpstreamError && err.upstreamStatus === 404 && isDeltacloudErrorDocument(err.snippet)) return null;
      throw err;
    }
    const normalised =
      this.config.format === 'json'
        ? fromJsonInstance(validateBody(jsonShowSchema, parseJsonBody(res, this.id, call), { backend: this.id, call, res }).instance)
        : fromXmlInstance(validateBody(xmlShowSchema, this.parseXml(res, call), { backend: this.id, call, res }).instance);
    return toDeltacloudObservation(validateBody(normalisedInstanceSchema, normalised, { backend: this.id, call, res }), this.id);
  }

  /** Readiness: the entry point answers and parses. */
  async ping(): Promise<void> {
    await this.getApi();
  }

  private get(call: string, url: string): Promise<BackendResponse> {
    return this.http.request({ call, method: 'GET', url, headers: this.headers });
  }

  /** XML body → object; a non-XML media type is `content_type`, malformed XML is `parse`. */
  private parseXml(res: BackendResponse, call: string): unknown {
    if (!isXmlType(res.contentType)) {
      throw new UpstreamError(
        `${call}: expected application/xml from backend ${this.id}, got '${mediaType(res.contentType) || 'no content type'}'`,
        { backend: this.id, reason: 'content_type', upstreamStatus: res.status, body: res.body },
      );
    }
    const text = res.body.toString('utf8');
    const valid = XMLValidator.validate(text);
    if (valid !== true) {
      throw new UpstreamError(`${call}: backend ${this.id} sent malformed XML (${valid.err.msg}, line ${valid.err.line})`, {
        backend: this.id,
        reason: 'parse',
        upstreamStatus: res.status,
        body: res.body,
      });
    }
    return xmlParser.parse(text) as unknown;
  }
}

/** Deltacloud's `<error status=… url=…><kind>…</kind><message>…</message></error>` (or its JSON twin). */
function isDeltacloudErrorDocument(snippet: string | undefined): boolean {
  if (!snippet) return false;
  return /<error[\s>]/.test(snippet) || /^\s*\{\s*"error"\s*:/.test(snippet);
}
