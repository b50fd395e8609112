import { expect } from 'chai';
import { SsrfError, SsrfGuard, type Resolver } from '../../../src/webhooks/ssrf-guard.js';

const resolver: Resolver = async (host) => {
  const table: Record<string, string[]> = {
    'public.example': ['93.184.216.34'],
    'private.example': ['10.1.2.3'],
    'mixed.example': ['93.184.216.34', '192.168.1.1'],
    'v6.example': ['2606:2800:220:1:248:1893:25c8:1946'],
  };
  const addrs = table[host];
  if (!addrs) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return addrs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

async function reason(guard: SsrfGuard, url: string): Promise<string> {
  try {
    await guard.checkUrl(url);
    return 'ok';
  } catch (err) {
    expect(err).to.be.instanceOf(SsrfError);
    return (err as SsrfError).reason;
  }
}

describe('SsrfGuard', () => {
  const guard = new SsrfGuard([], resolver);

  const table: [string, string][] = [
    ['https://public.example/hook', 'ok'],
    ['http://v6.example/hook', 'ok'],
    ['http://127.0.0.1/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://169.254.169.254/latest/meta-data', 'link-local'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://10.0.0.1/', 'private'],
    ['http://172.16.5.4/', 'private'],
    ['http://192.168.0.1/', 'private'],
    ['http://[fc00::1]/', 'private'],
    ['http://[::ffff:10.0.0.1]/', 'private'],
    ['http://100.64.0.1/', 'cgnat'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://255.255.255.255/', 'broadcast'],
    ['http://240.0.0.1/', 'reserved'],
    ['http://private.example/', 'private'],
    ['http://mixed.example/', 'private'],
    ['http://nowhere.example/', 'unresolvable'],
    ['ftp://public.example/', 'scheme'],
    ['file:///etc/passwd', 'scheme'],
    ['http://user:pass@public.example/', 'credentials'],
    [`https://public.example/${'a'.repeat(2_100)}`, 'length'],
    ['not a url', 'malformed'],
  ];
  for (const [url, expected] of table) {
    it(`${url.slice(0, 60)} → ${expected}`, async () => {
      expect(await reason(guard, url)).to.equal(expected);
    });
  }

  it('allows a refused range when allowNetworks lists it', async () => {
    const allowing = new SsrfGuard(['127.0.0.0/8', '::1/128', '10.0.0.0/8', '169.254.169.254/32', '100.64.0.0/10'], resolver);
    for (const url of ['http://127.0.0.1/', 'http://[::1]/', 'http://10.0.0.1/', 'http://private.example/', 'http://169.254.169.254/', 'http://100.64.0.1/']) {
      expect(await reason(allowing, url), url).to.equal('ok');
    }
    expect(await reason(allowing, 'http://192.168.0.1/')).to.equal('private');
  });

  it('lookup refuses a name resolving to a refused address (connect time)', async () => {
    const err = await new Promise<Error | null>((resolve) => guard.lookup('private.example', { all: true }, (e) => resolve(e)));
    expect(err).to.be.instanceOf(SsrfError);
    const ok = await new Promise<unknown>((resolve) => guard.lookup('public.example', {}, (e, address) => resolve(e ?? address)));
    expect(ok).to.equal('93.184.216.34');
  });
});
