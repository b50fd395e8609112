/**
 * The one way a listing reaches the cache (in the spirit of Backstage's `applyMutation`):
 * observe what it saw through the store's atomic write path, then settle what it proves
 * complete (misses counted; two consecutive misses vanish an instance or delete a
 * deployment), then what the backend said is gone.
 */
import type { ObserveContext, ObserveResult, StateStore } from '../store/state-store.js';
import type { Listing } from './instance-source.js';

export interface AppliedListing {
  /** One result per observation (deployments first, then instances). */
  results: ObserveResult[];
  /** Deployments missing from a full stack list for the first time (worth one show). */
  missedOnce: string[];
}

export async function applyListing(store: StateStore, listing: Listing, ctx: ObserveContext): Promise<AppliedListing> {
  const results: ObserveResult[] = [];
  if (listing.deployments?.length) results.push(...(await store.observeDeployments(listing.deployments, ctx)));
  if (listing.instances?.length) results.push(...(await store.observeInstances(listing.instances, ctx)));
  let missedOnce: string[] = [];
  const complete = listing.complete;
  if (complete && 'deploymentsOf' in complete) {
    const seen = (listing.deployments ?? []).map((d) => d.id);
    ({ missedOnce } = await store.completeDeploymentListing(complete.deploymentsOf, seen, ctx));
  } else if (complete) {
    const seen = (listing.instances ?? []).map((i) => i.id);
    await store.completeInstanceListing(complete.instancesOf, listing.seenIds ? [...listing.seenIds, ...seen] : seen, ctx);
  }
  if (listing.gone && listing.gone.deploymentIds.length > 0) {
    await store.deleteDeployments(listing.gone.deploymentIds, listing.gone.reason, ctx);
  }
  for (const deploymentId of [...(listing.gone?.deploymentIds ?? []), ...(listing.instancesGoneOf ?? [])]) {
    await store.vanishInstances(await store.instanceIdsOf(deploymentId), ctx);
  }
  return { results, missedOnce };
}
