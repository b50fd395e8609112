/**
 * The SSRF guard of DESIGN §6: which URLs a webhook may point at, checked at registration
 * and again at connect time. A name is resolved and every address it resolves to must be a
 * public unicast address (or inside `webhooks.allowNetworks`); the same check runs inside
 * the `lookup` of the delivery agents, so a name that rebinds to a private address after
 * registration cannot be reached.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Longest webhook URL accepted. */
export const MAX_URL_LENGTH = 2_048;

/** Resolves a host name to its addresses; injectable so tests never touch the network. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

/** The system resolver (getaddrinfo, like the HTTP stack itself would use). */
export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Machine-readable reasons a URL or address is refused. */
export type SsrfReason =
  | 'scheme'
  | 'credentials'
  | 'length'
  | 'malformed'
  | 'unresolvable'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'multicast'
  | 'unspecified'
  | 'broadcast'
  | 'reserved';

/** A URL or address the guard refuses; `reason` is stable, the message says what to change. */
export class SsrfError extends Error {
  constructor(
    message: string,
    readonly reason: SsrfReason,
  ) {
    super(message);
    this.name = 'SsrfError';
  }
}

/** ipaddr.js range names → our reasons; anything else that is not `unicast` is `reserved`. */
const RANGE_REASON: Record<string, SsrfReason> = {
  loopback: 'loopback',
  private: 'private',
  uniqueLocal: 'private',
  deprecatedSiteLocal: 'private',
  linkLocal: 'link-local',
  carrierGradeNat: 'cgnat',
  multicast: 'multicast',
  unspecified: 'unspecified',
  broadcast: 'broadcast',
};

export class SsrfGuard {
  private readonly allowed: [ipaddr.IPv4 | ipaddr.IPv6, number][];

  /**
   * @param allowNetworks CIDRs exempt from the guard (`webhooks.allowNetworks`).
   * @param resolver How names are resolved. @defaultValue {@link systemResolver}
   */
  constructor(
    allowNetworks: readonly string[],
    readonly resolver: Resolver = systemResolver,
  ) {
    this.allowed = allowNetworks.map((cidr) => ipaddr.parseCIDR(cidr));
  }

  /** Throws {@link SsrfError} unless `address` (an IP literal) may be contacted. */
  checkAddress(address: string): void {
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = ipaddr.parse(address);
    } catch {
      throw new SsrfError(`'${address}' is not an IP address`, 'malformed');
    }
    // ::ffff:10.0.0.1 is 10.0.0.1 on the wire; judge (and allow-list) it as IPv4.
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
    if (this.allowed.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))) return;
    const range = ip.range();
    if (range === 'unicast') return;
    const reason = RANGE_REASON[range] ?? 'reserved';
    throw new SsrfError(
      `${address} is a ${reason} address (${range}); webhooks may only reach public addresses unless webhooks.allowNetworks lists the network`,
      reason,
    );
  }

  /** Checks the form of a URL (scheme, credentials, length) without resolving it. */
  checkUrlForm(raw: string): URL {
    if (raw.length > MAX_URL_LENGTH) {
      throw new SsrfError(`the URL is ${raw.length} characters long; at most ${MAX_URL_LENGTH} are allowed`, 'length');
    }
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new SsrfError('is not an absolute URL; use e.g. https://conductor.example.com/hooks/heat', 'malformed');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SsrfError(`scheme '${url.protocol.replace(/:$/, '')}' is not allowed; use http or https`, 'scheme');
    }
    if (url.username !== '' || url.password !== '') {
      throw new SsrfError('credentials in the URL are not allowed; the receiver verifies the webhook signature instead', 'credentials');
    }
    if (url.hostname === '') throw new SsrfError('the URL has no host', 'malformed');
    return url;
  }

  /** Full check: form, then every address the host resolves to. Returns the parsed URL. */
  async checkUrl(raw: string): Promise<URL> {
    const url = this.checkUrlForm(raw);
    const host = hostOf(url);
    if (isIP(host)) {
      this.checkAddress(host);
      return url;
    }
    for (const { address } of await this.resolve(host)) this.checkAddress(address);
    return url;
  }

  /** Resolves `host`; an empty answer or a resolver failure is `unresolvable`. */
  async resolve(host: string): Promise<LookupAddress[]> {
    let addresses: LookupAddress[];
    try {
      addresses = await this.resolver(host);
    } catch (err) {
      throw new SsrfError(`host '${host}' does not resolve (${(err as Error).message}); check the name`, 'unresolvable');
    }
    if (addresses.length === 0) throw new SsrfError(`host '${host}' does not resolve to any address`, 'unresolvable');
    return addresses;
  }

  /**
   * A `lookup` for `net.connect` (and so for http/https agents): resolves through the
   * injectable resolver and refuses the connection when any address is not allowed, so a
   * name rebound to a private address after registration is never connected to.
   */
  readonly lookup = (
    hostname: string,
    options: LookupOneOptions | { all?: boolean; family?: number | string },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    this.resolve(hostname).then(
      (addresses) => {
        try {
          for (const { address } of addresses) this.checkAddress(address);
        } catch (err) {
          callback(err as NodeJS.ErrnoException, '', 0);
          return;
        }
        const family = typeof options.family === 'number' ? options.family : options.family === 'IPv6' ? 6 : options.family === 'IPv4' ? 4 : 0;
        const usable = family === 0 ? addresses : addresses.filter((a) => a.family === family);
        if (usable.length === 0) {
          callback(Object.assign(new Error(`no IPv${family} address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        } else if (options.all) {
          callback(null, usable);
        } else {
          callback(null, usable[0]!.address, usable[0]!.family);
        }
      },
      (err: Error) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}

/** The host of a URL without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}
