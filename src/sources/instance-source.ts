/**
 * What strategies read from. A source lists a scope and shows one instance; each answer is a
 * {@link Listing} that says what it proves complete, so the store can tell an instance that
 * vanished from one that was simply not asked about. Strategies get sources by capability
 * from the {@link SourceCatalog} (`instances()`, `deployments()`, `pushSubscriptions()`),
 * never by client class.
 */
import type { BackendConfig } from '../config/schema.js';
import type { DeploymentObservation, InstanceObservation } from '../model/types.js';
import type { ListingScope } from '../store/state-store.js';

export type BackendKind = BackendConfig['kind'];

/** What one read of a backend saw and what it proves; applied by `applyListing`. */
export interface Listing {
  backendId: string;
  deployments?: DeploymentObservation[];
  instances?: InstanceObservation[];
  /**
   * What the listing is complete for. `deploymentsOf`: every deployment of that backend is
   * in `deployments`; `instancesOf`: every instance of that scope is in `instances`. Absent:
   * a delta, which proves nothing about what it does not name.
   */
  complete?: { deploymentsOf: string } | { instancesOf: ListingScope };
  /**
   * With `complete`: ids this listing saw in chunks applied before it (a streamed listing,
   * see {@link InstanceSource.streamList}); they count as seen along with `instances`.
   */
  seenIds?: string[];
  /** Deployments the backend says are gone (deleted, or unknown to it now), with why. */
  gone?: { deploymentIds: string[]; reason: string };
  /** Deployments whose instances are all gone (their stack is DELETE_COMPLETE). */
  instancesGoneOf?: string[];
}

/** Which part of a backend to read. */
export type SourceScope = { all: true } | { deploymentId: string; name?: string };

/** Per-read options a strategy passes (Deltacloud attribution). */
export interface ReadOptions {
  /** Regex with a named group `deployment` that names the stack from an instance name. */
  namePattern?: string;
}

/** Any backend the gateway reads instances from. */
export interface InstanceSource {
  readonly backendId: string;
  readonly kind: BackendKind;
  /**
   * Reads a scope with list calls only. Heat: the stack list and each live stack's servers
   * (`all`), or one stack shown and its servers listed; Deltacloud: its one instance list.
   */
  list(scope: SourceScope, options?: ReadOptions): Promise<Listing[]>;
  /**
   * The same read, handed to `apply` in chunks while it streams, for a listing too large to
   * hold (Deltacloud's whole account). Chunks are deltas; the last listing applied carries
   * `complete` (with `seenIds`) and is applied only after the whole read succeeded.
   */
  streamList?(scope: SourceScope, options: ReadOptions, apply: (listing: Listing) => Promise<void>): Promise<void>;
  /** One instance (a delta), or null when the backend does not know it. */
  show(instanceId: string, known: { deploymentId: string; deploymentName?: string } | null, options?: ReadOptions): Promise<Listing[] | null>;
}

export interface StackSummary {
  ref: { name: string; id: string };
  /** Raw Heat status, e.g. CREATE_IN_PROGRESS. */
  status: string | null;
}

/** A backend that groups instances into deployments it can list and show (Heat). */
export interface DeploymentSource extends InstanceSource {
  /** The stack list: a full listing of the backend's deployments. */
  listDeployments(): Promise<{ listing: Listing; stacks: StackSummary[] }>;
  /** One stack shown: its deployment, or `gone` when the backend no longer knows it. */
  showDeployment(stack: StackSummary['ref'] | string): Promise<{ listing: Listing; stack: StackSummary | null }>;
  /** One stack's servers: a full listing of that deployment's instances. */
  listDeploymentInstances(stack: StackSummary['ref']): Promise<Listing>;
}

export function isDeploymentSource(source: InstanceSource): source is DeploymentSource {
  return typeof (source as Partial<DeploymentSource>).listDeployments === 'function';
}
