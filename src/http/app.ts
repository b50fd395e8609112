/** The express 5 application: parsing limits, health, the routers it is given, 404, problems. */
import { isUtf8 } from 'node:buffer';
import express, { type Express, type Router } from 'express';
import { InputError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { healthRouter, type ReadinessCheck } from './health.js';
import { parseLargeList, takeParsedList } from './json-list.js';
import { notFoundHandler, problemMiddleware } from './problem.js';

export interface AppOptions {
  logger: Logger;
  bodyLimitBytes: number;
  /** Evaluated at every /readyz, so checks can follow config reloads. */
  readiness: () => readonly ReadinessCheck[];
  /** Routers mounted after health, before the 404 handler. */
  routers?: Router[];
  /** Records request latency by route template. */
  metrics?: Metrics;
}

export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // reads compute their own ETags; other answers need none
  app.set('query parser', 'simple'); // no nested objects from ?a[b]=c
  if (options.metrics) {
    const histogram = options.metrics.httpDuration;
    app.use((req, res, next) => {
      const stop = histogram.startTimer({ method: req.method });
      // The matched route template (not the raw path) keeps label cardinality bounded.
      res.once('finish', () => stop({ route: (req.route?.path as string | undefined) ?? 'unmatched', status: String(res.statusCode) }));
      next();
    });
  }
  app.use(
    express.json({
      limit: options.bodyLimitBytes,
      strict: true,
      verify: (req, _res, buf, encoding) => {
        // Kept for signature checks (push ingest HMAC) that must see the exact bytes.
        (req as { rawBody?: Buffer }).rawBody = buf;
        if (!isUtf8(buf)) {
          throw new InputError('the request body is not valid UTF-8', [{ path: 'body', message: 'must be UTF-8 encoded JSON' }]);
        }
        // A large list (pushed notifications) is parsed element by element: see json-list.ts.
        const list = parseLargeList(buf, encoding);
        if (list) throw list;
      },
    }),
    takeParsedList,
  );
  app.use(healthRouter(options.readiness));
  for (const router of options.routers ?? []) app.use(router);
  app.use(notFoundHandler);
  app.use(problemMiddleware(options.logger));
  return app;
}
