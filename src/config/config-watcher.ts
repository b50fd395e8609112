/**
 * Watches the config file (and SIGHUP) and publishes each new *validated* config to
 * subscribers. An invalid edit is rejected with one clear log line; the running config stays
 * in force. Editors often replace a file instead of writing it, so the directory is watched
 * and events are filtered by name.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log/logger.js';
import { ConfigError, parseConfigText } from './load.js';
import type { Config } from './schema.js';

export type ConfigListener = (next: Config, previous: Config) => void | Promise<void>;

export interface ConfigWatcherOptions {
  /** Wait this long after the last file event before reading (editors write in bursts). @defaultValue 100 */
  debounceMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Listen for SIGHUP. @defaultValue true */
  sighup?: boolean;
}

export class ConfigWatcher {
  private current: Config;
  private readonly listeners = new Set<ConfigListener>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<boolean> | undefined;
  private readonly path: string;
  private readonly onHup = () => void this.reload('SIGHUP');

  constructor(
    file: string,
    initial: Config,
    private readonly logger: Logger,
    private readonly options: ConfigWatcherOptions = {},
  ) {
    this.path = resolve(file);
    this.current = initial;
  }

  get config(): Config {
    return this.current;
  }

  /** Calls `listener` with every new validated config that differs from the running one. */
  subscribe(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    const name = basename(this.path);
    this.watcher = watch(dirname(this.path), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.reload('file change'), this.options.debounceMs ?? 100);
    });
    this.watcher.on('error', (err) => this.logger.warn('config watch failed; SIGHUP still reloads', { error: err.message }));
    if (this.options.sighup !== false) process.on('SIGHUP', this.onHup);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    process.off('SIGHUP', this.onHup);
  }

  /**
   * Reads and validates the file; publishes it when valid and different.
   * Resolves true when a new config was published. Concurrent calls share one read.
   */
  reload(reason = 'reload'): Promise<boolean> {
    this.reloading ??= this.doReload(reason).finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async doReload(reason: string): Promise<boolean> {
    let next: Config;
    try {
      next = parseConfigText(await readFile(this.path, 'utf8'), this.path, this.options.env ?? process.env);
    } catch (err) {
      const detail = err instanceof ConfigError ? err.problems.map((p) => `${p.key}: ${p.message}`).join('; ') : (err as Error).message;
      this.logger.error(`config change rejected, keeping the running config: ${detail}`, { file: this.path, reason });
      return false;
    }
    if (isDeepStrictEqual(next, this.current)) return false;
    const previous = this.current;
    this.current = next;
    this.logger.info('config reloaded', { file: this.path, reason });
    for (const listener of this.listeners) {
      try {
        await listener(next, previous);
      } catch (err) {
        this.logger.error('config listener failed', { error: (err as Error).message });
      }
    }
    return true;
  }
}
