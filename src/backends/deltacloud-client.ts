/**
 * Deltacloud REST API client: the `/api` entry point and the instances collection, in XML
 * (Deltacloud's default representation) or JSON (by `Accept`), both mapped to the same
 * canonical instance. The two representations differ in more than syntax — JSON says
 * `owner` where XML says `owner_id`, some servers print `create_time` instead of
 * `launch_time`, and addresses are `{address, type}` objects in JSON but `<address>`
 * elements (with optional attributes) in XML; each is normalised before validation.
 */
import { XMLValidator } from 'fast-xml-parser';
import { UpstreamError } from '../errors.js';
import type { DeltacloudBackendConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import {
  type DeltacloudApiInfo,
  type DeltacloudInstanceObservation,
  fromJsonInstance,
  fromXmlInstance,
  jsonApiSchema,
  jsonInstanceSchema,
  jsonShowSchema,
  normalisedInstanceSchema,
  toDeltacloudObservation,
  xmlApiSchema,
  xmlParser,
  xmlShowSchema,
} from './deltacloud-documents.js';
import { DeltacloudJsonListParser } from './deltacloud-json-list.js';
import { DeltacloudXmlListParser } from './deltacloud-xml-list.js';
import {
  BackendHttp,
  type BackendObserver,
  type BackendResponse,
  isJsonType,
  isXmlType,
  mediaType,
  parseJsonBody,
  validateBody,
} from './backend-http.js';

export { toDeltacloudObservation, type DeltacloudApiInfo, type DeltacloudInstanceObservation };


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
   * Every instance of the account, in one array. Reads the list like {@link streamInstances};
   * nothing reaches the caller unless the whole list parsed and validated.
   */
  async listInstances(): Promise<DeltacloudInstanceObservation[]> {
    const out: DeltacloudInstanceObservation[] = [];
    await this.streamInstances(async (batch) => void out.push(...batch), Number.POSITIVE_INFINITY);
    return out;
  }

  /**
   * Every instance of the account, handed to `onBatch` `batchSize` at a time while the list,
   * XML or JSON, is stream-parsed as it arrives (see deltacloud-xml-list.ts and
   * deltacloud-json-list.ts) under `maxResponseBytes`. The body is not read further while
   * `onBatch` runs, so memory holds about one batch whatever the account's size. Each batch
   * holds only instances that parsed and validated; a list that fails part-way (truncated,
   * malformed, an invalid instance, too large) rejects after the batches before the failure,
   * and never hands over the rest. Errors `onBatch` throws pass through unchanged.
   * Returns how many instances were listed.
   */
  async streamInstances(onBatch: (batch: DeltacloudInstanceObservation[]) => Promise<void>, batchSize = 1_000): Promise<number> {
    const call = 'deltacloud.listInstances';
    const json = this.config.format === 'json';
    return this.http.streamGet({ call, url: `${this.root}/instances`, headers: this.headers }, async (chunks, contentType, status) => {
      const fail = (reason: 'parse' | 'schema' | 'content_type', message: string) =>
        new UpstreamError(`${call}: ${message}`, { backend: this.id, reason, upstreamStatus: status });
      if (json ? !isJsonType(contentType) : !isXmlType(contentType)) {
        throw fail('content_type', `expected application/${json ? 'json' : 'xml'} from backend ${this.id}, got '${mediaType(contentType) || 'no content type'}'`);
      }
      let pending: DeltacloudInstanceObservation[] = [];
      let listed = 0;
      let invalid: string | undefined;
      const reject = (error: { issues: { path: PropertyKey[]; message: string }[] }) => {
        const issue = error.issues[0];
        invalid ??= `instances[${listed}]: ${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`;
      };
      const accept = (item: unknown) => {
        if (invalid) return;
        let normalised = item;
        if (json) {
          const raw = jsonInstanceSchema.safeParse(item);
          if (!raw.success) return reject(raw.error);
          normalised = fromJsonInstance(raw.data);
        }
        const checked = normalisedInstanceSchema.safeParse(normalised);
        if (!checked.success) return reject(checked.error);
        pending.push(toDeltacloudObservation(checked.data, this.id));
        listed++;
      };
      const parser = json ? new DeltacloudJsonListParser(accept) : new DeltacloudXmlListParser(accept);
      const decoder = new TextDecoder('utf-8');
      const parse = (write: () => void) => {
        try {
          write();
        } catch (err) {
          if (err instanceof UpstreamError) throw err;
          throw fail('parse', `backend ${this.id} sent malformed ${json ? 'JSON' : 'XML'} (${(err as Error).message.split('\n')[0]})`);
        }
        // An invalid instance fails the list at once: nothing after it is handed over.
        if (invalid) throw fail('schema', `backend ${this.id} answered an unexpected document (${invalid})`);
      };
      const handOver = async (atLeast: number) => {
        while (pending.length > 0 && pending.length >= atLeast) {
          const batch = pending.length > batchSize ? pending.slice(0, batchSize) : pending;
          pending = pending.length > batchSize ? pending.slice(batchSize) : [];
          await onBatch(batch);
        }
      };
      for await (const chunk of chunks) {
        parse(() => parser.write(decoder.decode(chunk, { stream: true })));
        await handOver(batchSize);
      }
      parse(() => {
        parser.write(decoder.decode());
        parser.end();
      });
      await handOver(1);
      return listed;
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
