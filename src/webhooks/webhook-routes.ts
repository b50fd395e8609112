/** The webhook routes of DESIGN §5 (role `client`), declared once with their zod schemas. */
import { z } from 'zod';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import type { ApiRouter } from '../http/api-router.js';
import { newEventId } from '../store/state-store.js';
import type { WebhookService } from './webhook-service.js';
import {
  attemptSchema,
  createWebhookSchema,
  deliveryParams,
  deliveryViewSchema,
  logPageQuerySchema,
  webhookPageQuerySchema,
  patchWebhookSchema,
  replaySchema,
  webhookIdParams,
  webhookViewSchema,
  webhookWithSecretSchema,
} from './webhook-schemas.js';
import { toView } from '../store/webhook-registry.js';

const TAG = 'webhooks';
const auth = ['client' as const];

export function declareWebhookRoutes(api: ApiRouter, service: WebhookService): void {
  api
    .route({
      method: 'post', path: '/v1/webhooks', tag: TAG, auth,
      summary: 'Register a webhook endpoint',
      description: 'Answers the signing secret (whsec_…) once. The URL must be http(s), without credentials, and resolve only to public addresses (or webhooks.allowNetworks).',
      body: createWebhookSchema,
      responses: { 201: { description: 'Registered', schema: webhookWithSecretSchema } },
      handler: async ({ body, res }) => {
        const { webhook, secret } = await service.create(body);
        res.status(201).location(`/v1/webhooks/${webhook.id}`).json({ ...toView(webhook), secret });
      },
    })
    .route({
      method: 'get', path: '/v1/webhooks', tag: TAG, auth,
      summary: 'List webhook endpoints',
      query: webhookPageQuerySchema,
      responses: { 200: { description: 'A page', schema: z.object({ items: z.array(webhookViewSchema), next: z.string().nullable() }) } },
      handler: async ({ query, res }) => {
        const page = await service.registry.page(query.limit, query.cursor);
        res.json({ items: page.items.map(toView), next: page.next });
      },
    })
    .route({
      method: 'get', path: '/v1/webhooks/:id', tag: TAG, auth,
      summary: 'One webhook endpoint',
      params: webhookIdParams,
      responses: { 200: { description: 'The endpoint', schema: webhookViewSchema }, 404: { description: 'Unknown id' } },
      handler: async ({ params, res }) => res.json(toView(await service.registry.get(params.id))),
    })
    .route({
      method: 'patch', path: '/v1/webhooks/:id', tag: TAG, auth,
      summary: 'Change a webhook endpoint (enabled: true re-enables it)',
      params: webhookIdParams,
      body: patchWebhookSchema,
      responses: { 200: { description: 'The endpoint', schema: webhookViewSchema }, 404: { description: 'Unknown id' } },
      handler: async ({ params, body, res }) => res.json(toView(await service.patch(params.id, body))),
    })
    .route({
      method: 'delete', path: '/v1/webhooks/:id', tag: TAG, auth,
      summary: 'Delete a webhook endpoint and its delivery log',
      params: webhookIdParams,
      responses: { 204: { description: 'Deleted' }, 404: { description: 'Unknown id' } },
      handler: async ({ params, res }) => {
        await service.registry.delete(params.id);
        res.status(204).end();
      },
    })
    .route({
      method: 'post', path: '/v1/webhooks/:id/rotate-secret', tag: TAG, auth,
      summary: 'Rotate the signing secret',
      description: 'The previous secret keeps signing (a second v1 signature) for webhooks.rotationOverlapMs (24 h by default).',
      params: webhookIdParams,
      responses: { 200: { description: 'The new secret', schema: webhookWithSecretSchema }, 404: { description: 'Unknown id' } },
      handler: async ({ params, res }) => {
        const { webhook, secret } = await service.registry.rotate(params.id, service.config().rotationOverlapMs);
        res.json({ ...toView(webhook), secret });
      },
    })
    .route({
      method: 'post', path: '/v1/webhooks/:id/test', tag: TAG, auth,
      summary: 'Send a webhook.test event to this endpoint',
      params: webhookIdParams,
      responses: {
        202: { description: 'Queued', schema: z.object({ deliveryId: z.string() }) },
        404: { description: 'Unknown id' },
        409: { description: 'The endpoint is disabled' },
      },
      handler: async ({ params, res }) => {
        const webhook = await service.registry.get(params.id);
        if (!webhook.enabled) throw new ConflictError(`webhook ${params.id} is disabled; PATCH it with {"enabled": true} first`);
        const eventId = newEventId();
        await service.enqueue(webhook, [
          {
            eventId,
            type: 'webhook.test',
            subject: '',
            ordered: false,
            body: JSON.stringify({
              type: 'webhook.test',
              timestamp: new Date(service.now()).toISOString(),
              data: { id: webhook.id, deploymentId: null, cursor: null, message: 'test event from heat-gateway' },
            }),
          },
        ], 'new');
        res.status(202).json({ deliveryId: eventId });
      },
    })
    .route({
      method: 'get', path: '/v1/webhooks/:id/deliveries', tag: TAG, auth,
      summary: 'Attempt log of this endpoint, newest first',
      description: 'Each attempt: delivery id, attempt number, time, HTTP status, duration, first 4 KB of the response body, error. Bounded by webhooks.attemptLogLimit.',
      params: webhookIdParams,
      query: logPageQuerySchema.extend({ deliveryId: deliveryParams.shape.deliveryId.optional().describe('only attempts of this delivery') }).strict(),
      responses: { 200: { description: 'A page of attempts', schema: z.object({ items: z.array(attemptSchema), next: z.string().nullable() }) } },
      handler: async ({ params, query, res }) => {
        await service.registry.get(params.id);
        res.json(await service.deliveries.attempts(params.id, query.limit, query.cursor, query.deliveryId));
      },
    })
    .route({
      method: 'get', path: '/v1/webhooks/:id/deliveries/:deliveryId', tag: TAG, auth,
      summary: 'One delivery: status, counts and its attempts',
      params: deliveryParams,
      responses: {
        200: { description: 'The delivery', schema: deliveryViewSchema.extend({ attemptLog: z.array(attemptSchema) }) },
        404: { description: 'Unknown (or expired) delivery' },
      },
      handler: async ({ params, res }) => {
        const delivery = await service.deliveries.get(params.id, params.deliveryId);
        if (!delivery) throw new NotFoundError(`delivery ${params.deliveryId} of webhook ${params.id} does not exist or has expired`);
        const { items } = await service.deliveries.attempts(params.id, 1_000, undefined, params.deliveryId);
        res.json({ ...delivery.view, attemptLog: items });
      },
    })
    .route({
      method: 'get', path: '/v1/webhooks/:id/dead-letters', tag: TAG, auth,
      summary: 'Dead-lettered deliveries (every attempt failed), newest first',
      params: webhookIdParams,
      query: logPageQuerySchema,
      responses: { 200: { description: 'A page', schema: z.object({ items: z.array(deliveryViewSchema), next: z.string().nullable() }) } },
      handler: async ({ params, query, res }) => {
        await service.registry.get(params.id);
        res.json(await service.deliveries.dead(params.id, query.limit, query.cursor));
      },
    })
    .route({
      method: 'post', path: '/v1/webhooks/:id/deliveries/:deliveryId/redeliver', tag: TAG, auth,
      summary: 'Send a finished (delivered or dead-lettered) delivery again, with the same webhook-id',
      params: deliveryParams,
      responses: {
        202: { description: 'Queued', schema: z.object({ deliveryId: z.string(), run: z.number() }) },
        404: { description: 'Unknown delivery' },
        409: { description: 'Still pending, or delivered and its event no longer in the feed' },
      },
      handler: async ({ params, res }) => {
        const webhook = await service.registry.get(params.id);
        const delivery = await service.deliveries.get(params.id, params.deliveryId);
        if (!delivery) throw new NotFoundError(`delivery ${params.deliveryId} of webhook ${params.id} does not exist or has expired; use replay`);
        const result = await service.redeliver(webhook, delivery);
        if (result.code === 'busy') throw new ConflictError(`delivery ${params.deliveryId} is still ${delivery.view.status}; it is redelivered on its own schedule`);
        res.status(202).json({ deliveryId: delivery.view.id, run: result.run });
      },
    })
    .route({
      method: 'post', path: '/v1/webhooks/:id/replay', tag: TAG, auth,
      summary: 'Send again every matching feed event since a time',
      description: 'Events still in the feed (retention: feed.maxAgeMs / maxLength) that match the endpoint\'s filters, in feed order; deliveries still pending are left alone.',
      params: webhookIdParams,
      body: replaySchema,
      responses: {
        202: { description: 'Queued', schema: z.object({ matched: z.number(), queued: z.number(), alreadyPending: z.number() }) },
        404: { description: 'Unknown id' },
      },
      handler: async ({ params, body, res }) => {
        const since = Date.parse(body.since);
        if (since > service.now()) throw new InputError('since is in the future', [{ path: 'body.since', message: 'must not be in the future' }]);
        res.status(202).json(await service.replay(params.id, since));
      },
    });
}
