/**
 * Incremental parser of Deltacloud's XML instance list (`GET /api/instances`), fed chunk by
 * chunk as the body arrives. It keeps one instance's fields at a time and never the text or
 * a tree of the whole document, so a 100,000-instance account costs its compact results,
 * not 130 MB of XML twice over. `saxes` does the XML itself: a strict, well-kept streaming
 * parser (used by jsdom) that rejects malformed documents, which a regex scanner would not.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';

/** One `<instance>` as the list spells it, before validation. */
export interface XmlListedInstance {
  id: string;
  href: string | null;
  name: string | null;
  owner_id: string | null;
  image_id: string | null;
  realm_id: string | null;
  state: string | null;
  launch_time: string | null;
  public_addresses: string[];
  private_addresses: string[];
}

const TEXT_FIELDS = new Set(['name', 'owner_id', 'state', 'launch_time', 'create_time']);

export class DeltacloudXmlListParser {
  private readonly sax = new SaxesParser({ xmlns: false });
  private readonly path: string[] = [];
  private current: (XmlListedInstance & { create_time: string | null }) | undefined;
  private text = '';
  private rootSeen = false;
  private failure: Error | undefined;

  /** `onInstance` gets each instance as soon as its closing tag is read. */
  constructor(private readonly onInstance: (instance: XmlListedInstance) => void) {
    this.sax.on('error', (err) => {
      this.failure ??= err;
    });
    this.sax.on('opentag', (tag) => this.open(tag));
    this.sax.on('closetag', (tag) => this.close(tag.name));
    this.sax.on('text', (t) => {
      if (this.current) this.text += t;
    });
    this.sax.on('cdata', (t) => {
      if (this.current) this.text += t;
    });
  }

  write(chunk: string): void {
    if (this.failure) throw this.failure;
    this.sax.write(chunk);
    if (this.failure) throw this.failure;
  }

  /** The document ended: it must have been a complete `<instances>` list. */
  end(): void {
    if (this.failure) throw this.failure;
    this.sax.close();
    if (this.failure) throw this.failure;
    if (!this.rootSeen) throw new Error('the document is not an <instances> list');
  }

  private open(tag: SaxesTagPlain): void {
    this.path.push(tag.name);
    const depth = this.path.length;
    if (depth === 1) {
      if (tag.name !== 'instances') throw (this.failure = new Error(`the root element is <${tag.name}>, not <instances>`));
      this.rootSeen = true;
      return;
    }
    if (depth === 2 && tag.name === 'instance') {
      this.current = {
        id: tag.attributes.id ?? '',
        href: tag.attributes.href ?? null,
        name: null,
        owner_id: null,
        image_id: null,
        realm_id: null,
        state: null,
        launch_time: null,
        create_time: null,
        public_addresses: [],
        private_addresses: [],
      };
      return;
    }
    if (!this.current) return;
    if (depth === 3 && tag.name === 'image') this.current.image_id = tag.attributes.id ?? null;
    if (depth === 3 && tag.name === 'realm') this.current.realm_id = tag.attributes.id ?? null;
    this.text = '';
  }

  private close(name: string): void {
    const depth = this.path.length;
    this.path.pop();
    const current = this.current;
    if (!current) return;
    if (depth === 2 && name === 'instance') {
      const { create_time, ...instance } = current;
      instance.launch_time ??= create_time;
      this.current = undefined;
      this.onInstance(instance);
      return;
    }
    const value = this.text.trim();
    this.text = '';
    if (depth === 3 && TEXT_FIELDS.has(name)) (current as unknown as Record<string, string>)[name] = value;
    if (depth === 4 && name === 'address' && value) {
      const parent = this.path[2];
      if (parent === 'public_addresses') current.public_addresses.push(value);
      if (parent === 'private_addresses') current.private_addresses.push(value);
    }
  }
}
