/** Webhooks from the configuration: none configured → no notifier at all. */
import type { Config, Secrets } from '../config.js';
import { scrubberFor, type Logger } from '../log.js';
import { WebhookNotifier, type NotifierOptions } from './webhooks.js';

export { WebhookNotifier } from './webhooks.js';

export function createNotifier(
  config: Pick<Config, 'notify'>,
  secrets: Secrets,
  log: Logger,
  extra: Pick<NotifierOptions, 'versionOf'> = {},
): WebhookNotifier | undefined {
  const n = config.notify;
  const urls = secrets.webhookUrls ?? [];
  const webhooks = n.webhooks.flatMap((w, i) => (urls[i] ? [{ url: urls[i]!, format: w.format }] : []));
  if (!webhooks.length) return undefined;
  return new WebhookNotifier({
    webhooks,
    timeoutMs: n.timeoutMs,
    retries: n.retries,
    backoffMs: n.backoffMs,
    queueMax: n.queueMax,
    log,
    scrubber: scrubberFor(secrets),
    ...extra,
  });
}
