/** Backend clients (Keystone v3, Heat v1, Deltacloud) and their shared HTTP layer. */
export * from './backend-http.js';
export * from './keystone-client.js';
export * from './heat-client.js';
export * from './deltacloud-client.js';
export * from './create-backend-clients.js';
