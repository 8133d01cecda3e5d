/** One thread's settings for https:// backends: the CA context (parsed once per config) and tls.connect options per backend. */
import type { ConnectionOptions, SecureContext } from 'node:tls';
import { logger } from '../log.js';
import { type UpstreamTls, upstreamConnectOptions, upstreamContext } from './tls-config.js';

const log = logger('proxy');

/** Builds tls.connect options for https:// backends from the config's `tls` section. */
export class UpstreamTlsSettings {
  private context: SecureContext | null = null;

  constructor(private tls: UpstreamTls) {}

  /**
   * Takes a reloaded `tls` section; the CA file is read again. The main thread has checked it before the reload
   * reached this thread, so a failure here (the file changed in between) keeps the previous context.
   */
  update(tls: UpstreamTls): void {
    try {
      const next = upstreamContext(tls);
      this.tls = tls;
      this.context = next;
    } catch (err) {
      log.error('tls: keeping the previous backend settings', { error: err });
    }
  }

  /** The options for `url`'s connections, or null for an http:// backend. */
  forUrl(url: string): ConnectionOptions | null {
    if (!url.startsWith('https:')) return null;
    this.context ??= upstreamContext(this.tls);
    return upstreamConnectOptions(url, this.tls, this.context);
  }
}
