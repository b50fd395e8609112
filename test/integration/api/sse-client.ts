/** A minimal Server-Sent Events client for tests: raw bytes in, parsed messages and comments out. */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

export interface SseConnection {
  status: number;
  headers: IncomingMessage['headers'];
  /** Complete messages (terminated by a blank line), in order. */
  messages: SseMessage[];
  comments: string[];
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Drops the connection abruptly (like a network cut). */
  drop(): void;
}

export function openSse(url: string, path: string, headers: Record<string, string>): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    let req: ClientRequest;
    // eslint-disable-next-line prefer-const
    req = request(`${url}${path}`, { method: 'GET', headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const messages: SseMessage[] = [];
      const comments: string[] = [];
      let buffer = '';
      let ended!: () => void;
      const endedPromise = new Promise<void>((r) => (ended = r));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const message: SseMessage = { event: 'message', data: '' };
          let isMessage = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              comments.push(line.slice(1).trim());
              continue;
            }
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') message.id = value;
            else if (field === 'event') message.event = value;
            else if (field === 'data') message.data = message.data ? `${message.data}\n${value}` : value;
            else continue;
            isMessage = true;
          }
          if (isMessage) messages.push(message);
        }
      });
      res.on('end', () => ended());
      res.on('close', () => ended());
      res.on('error', () => ended());
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        messages,
        comments,
        ended: endedPromise,
        drop: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
