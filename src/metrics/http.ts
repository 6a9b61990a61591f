/** GET /metrics: Prometheus text, mounted behind the MCP routes' auth; needs the read scope. */
import type { RequestHandler } from 'express';
import type { AuthedRequest } from '../http/auth.js';
import type { Logger } from '../log.js';
import { SCOPE_READ } from '../tools/guard.js';
import type { ServerMetrics } from './index.js';

export function metricsHandler(metrics: ServerMetrics, log: Logger): RequestHandler {
  return async (req, res) => {
    if (!(req as AuthedRequest).auth?.scopes.includes(SCOPE_READ)) {
      res.status(403).json({ error: 'insufficient_scope', error_description: `metrics need the ${SCOPE_READ} scope` });
      return;
    }
    try {
      const text = await metrics.render();
      res.set('Content-Type', metrics.contentType).set('Cache-Control', 'no-store').send(text);
    } catch (e) {
      log.error({ err: (e as Error).message }, 'metrics could not be collected');
      res.status(500).json({ error: 'metrics_unavailable' });
    }
  };
}
