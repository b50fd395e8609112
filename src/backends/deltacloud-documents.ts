/**
 * Deltacloud's documents, both representations: the zod schemas of the XML and JSON forms,
 * their normalisation to one shape, and the canonical observation built from it. Apart from
 * the client so the streaming list parsers and the client share them.
 */
import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import type { InstanceObservation } from '../model/types.js';
import { mapDeltacloudState } from '../model/states.js';
import { toIsoUtc } from './backend-http.js';

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

export const normalisedInstanceSchema = z.object({
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
export type NormalisedInstance = z.infer<typeof normalisedInstanceSchema>;

// JSON representation (Deltacloud ≥ 1.0 `Instance#to_hash`).
const jsonRefSchema = z.union([z.string(), z.object({ id: z.string().nullish() })]).nullish();
const jsonAddressSchema = z.union([z.string(), z.object({ address: z.string().nullish(), type: z.string().nullish() })]);
export const jsonInstanceSchema = z.object({
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
export type JsonInstance = z.infer<typeof jsonInstanceSchema>;
export const jsonShowSchema = z.object({ instance: jsonInstanceSchema });
export const jsonApiSchema = z.object({
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
export const xmlShowSchema = z.object({ instance: xmlInstanceSchema });
export const xmlApiSchema = z.object({
  api: z.object({
    '@_version': z.string().optional(),
    '@_driver': z.string().optional(),
    '@_provider': z.string().optional(),
    link: z.array(z.object({ '@_rel': z.string(), '@_href': z.string() })).optional(),
  }),
});

export const xmlParser = new XMLParser({
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

export function fromXmlInstance(x: z.infer<typeof xmlInstanceSchema>): NormalisedInstance {
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

export function fromJsonInstance(j: JsonInstance): NormalisedInstance {
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
