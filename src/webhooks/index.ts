export { createWebhookModule, type WebhookModule, type WebhookModuleOptions } from './create-webhook-module.js';
export { SsrfGuard, SsrfError, systemResolver, type Resolver } from './ssrf-guard.js';
export { signWebhook, webhookHeaders, newWebhookSecret } from './webhook-signer.js';
