/**
 * What every simulated API handler can reach: the world, tokens, faults, credentials and
 * the URL layout.
 */
import type { ScenarioWorld } from './scenario-world.js';
import type { TokenStore } from './token-store.js';
import type { FaultInjector } from './fault-injector.js';

export interface SimCredentials {
  username: string;
  password: string;
  projectName: string;
  projectId: string;
  userDomain: string;
  deltacloudUser: string;
  deltacloudPassword: string;
  /** Deltacloud driver name echoed in `X-Deltacloud-Driver`. */
  driver: string;
}

export const PATHS = {
  keystone: '/identity/v3',
  heat: '/orchestration/v1',
  deltacloud: '/deltacloud/api',
  zaqar: '/messaging/v2',
  control: '/_sim',
} as const;

export interface SimContext {
  world: ScenarioWorld;
  tokens: TokenStore;
  faults: FaultInjector;
  credentials: SimCredentials;
  userId: string;
  region: string;
  /**
   * What the events list does with a marker it does not know. Heat itself ignores it and
   * serves the first page (`_events_paginate_query` looks the marker up with `.first()` and
   * passes None on); `not-found` answers 404 instead, for clients that want to be told.
   * @defaultValue 'first-page'
   */
  eventMarkerNotFound: 'first-page' | 'not-found';
}
