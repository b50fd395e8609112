/**
 * Incremental parser of Deltacloud's JSON instance list (`{"instances": [ {...}, ... ]}`),
 * fed text chunk by chunk as the body arrives: the twin of deltacloud-xml-list.ts. It scans
 * the document's skeleton (strings, nesting) itself and hands each element of the
 * `instances` array to `JSON.parse` alone, so memory holds one instance's text at a time,
 * never the whole 100,000-instance document as text and again as a tree. Each element is
 * parsed strictly by `JSON.parse`; the skeleton must be balanced and complete, so a
 * truncated answer fails instead of yielding a partial list.
 */

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class DeltacloudJsonListParser {
  /** Open containers, innermost last: `{` or `[`. */
  private readonly stack: number[] = [];
  private inString = false;
  private escaped = false;
  /** At depth 1 (the root object): whether the next string is a value (after `:`). */
  private afterColon = false;
  /** The key being read at depth 1, or null. */
  private keyParts: string[] | null = null;
  private lastKey = '';
  /** Depth of the `instances` array while inside it (2), else 0. */
  private instancesDepth = 0;
  private sawInstances = false;
  private rootClosed = false;
  private rootSeen = false;
  /** Text of the element being captured (across chunks), or null. */
  private element: string[] | null = null;
  private count = 0;

  /** `onInstance` gets each element of `instances` as soon as its closing brace is read. */
  constructor(private readonly onInstance: (instance: unknown, index: number) => void) {}

  write(chunk: string): void {
    let start = this.element ? 0 : -1;
    let keyStart = this.keyParts ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.keyParts) {
            this.keyParts.push(chunk.slice(keyStart, i));
            this.lastKey = this.keyParts.join('');
            this.keyParts = null;
            keyStart = -1;
          }
        }
        continue;
      }
      if (WHITESPACE.has(c)) continue;
      if (this.rootClosed) throw new Error(`unexpected '${chunk[i]}' after the end of the document`);
      if (!this.rootSeen) {
        if (c !== 0x7b) throw new Error('the document is not a JSON object with an "instances" array');
        this.rootSeen = true;
        this.stack.push(c);
        continue;
      }
      const depth = this.stack.length;
      switch (c) {
        case QUOTE:
          this.inString = true;
          if (depth === 1 && !this.afterColon) {
            this.keyParts = [];
            keyStart = i + 1;
          }
          break;
        case 0x3a: // :
          if (depth === 1) this.afterColon = true;
          break;
        case 0x2c: // ,
          if (depth === 1) this.afterColon = false;
          break;
        case 0x7b: // {
        case 0x5b: // [
          if (depth === 1 && c === 0x5b && this.afterColon && this.lastKey === 'instances') {
            this.instancesDepth = 2;
            this.sawInstances = true;
          } else if (this.instancesDepth === 2 && depth === 2) {
            if (c !== 0x7b) throw new Error(`instances[${this.count}] is not an object`);
            this.element = [];
            start = i;
          }
          this.stack.push(c);
          break;
        case 0x7d: // }
        case 0x5d: {
          // ]
          const open = this.stack.pop();
          if (open === undefined || (c === 0x7d) !== (open === 0x7b)) throw new Error(`unbalanced '${chunk[i]}'`);
          if (this.element && this.stack.length === 2) {
            this.element.push(chunk.slice(start, i + 1));
            const text = this.element.join('');
            this.element = null;
            start = -1;
            this.onInstance(JSON.parse(text) as unknown, this.count++);
          } else if (this.instancesDepth === 2 && this.stack.length === 1) {
            this.instancesDepth = 0;
          }
          if (this.stack.length === 0) this.rootClosed = true;
          break;
        }
        default:
          if (this.instancesDepth === 2 && depth === 2) throw new Error(`instances[${this.count}] is not an object`);
      }
    }
    if (this.element && start >= 0) this.element.push(chunk.slice(start));
    if (this.keyParts && keyStart >= 0) this.keyParts.push(chunk.slice(keyStart));
  }

  /** The document ended: it must have been a complete object with an `instances` array. */
  end(): void {
    if (!this.rootSeen || !this.rootClosed || this.inString) throw new Error('the JSON document ended before it was complete');
    if (!this.sawInstances) throw new Error('the document has no "instances" array');
  }
}
