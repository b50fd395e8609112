/**
 * A Heat backend as a source: the stack list (a full listing of its deployments), one stack
 * shown, and one stack's servers (a full listing of that deployment's instances, in one
 * resource-list call with details).
 */
import { stackIdOf, toDeploymentObservation, type HeatClient, type StackIdentity } from '../backends/heat-client.js';
import type { DeploymentSource, Listing, SourceScope, StackSummary } from './instance-source.js';

export class HeatSource implements DeploymentSource {
  readonly kind = 'heat' as const;

  constructor(readonly client: HeatClient) {}

  get backendId(): string {
    return this.client.id;
  }

  async listDeployments(): Promise<{ listing: Listing; stacks: StackSummary[] }> {
    const stacks = await this.client.listStacks();
    return {
      listing: {
        backendId: this.backendId,
        deployments: stacks.map((s) => toDeploymentObservation(s, this.backendId)),
        complete: { deploymentsOf: this.backendId },
      },
      stacks: stacks.map((s) => ({ ref: { name: s.stack_name, id: s.id }, status: s.stack_status ?? null })),
    };
  }

  async showDeployment(stack: StackIdentity): Promise<{ listing: Listing; stack: StackSummary | null }> {
    const shown = await this.client.getStack(stack);
    if (!shown) {
      // Heat does not know the stack any more: it and its servers are gone.
      return { listing: { backendId: this.backendId, gone: { deploymentIds: [stackIdOf(stack)], reason: 'Heat no longer knows this stack' } }, stack: null };
    }
    const listing: Listing = { backendId: this.backendId, deployments: [toDeploymentObservation(shown, this.backendId)] };
    // Heat says the stack is gone, so its servers are: no need to wait for two listings.
    if (shown.stack_status === 'DELETE_COMPLETE') listing.instancesGoneOf = [shown.id];
    return { listing, stack: { ref: { name: shown.stack_name, id: shown.id }, status: shown.stack_status ?? null } };
  }

  async listDeploymentInstances(stack: StackSummary['ref']): Promise<Listing> {
    const instances = await this.client.listServers(stack);
    return { backendId: this.backendId, instances, complete: { instancesOf: { deploymentId: stack.id } } };
  }

  async list(scope: SourceScope): Promise<Listing[]> {
    if ('deploymentId' in scope) {
      const { listing, stack } = await this.showDeployment(scope.name ? { name: scope.name, id: scope.deploymentId } : scope.deploymentId);
      if (!stack || listing.instancesGoneOf) return [listing];
      return [listing, await this.listDeploymentInstances(stack.ref)];
    }
    const { listing, stacks } = await this.listDeployments();
    const out = [listing];
    for (const s of stacks) if (s.status !== 'DELETE_COMPLETE') out.push(await this.listDeploymentInstances(s.ref));
    return out;
  }

  /** Heat shows servers per stack: one instance is refreshed with its stack's server list. */
  async show(_instanceId: string, known: { deploymentId: string; deploymentName?: string } | null): Promise<Listing[] | null> {
    if (!known) return null;
    if (known.deploymentName) return [await this.listDeploymentInstances({ name: known.deploymentName, id: known.deploymentId })];
    return this.list({ deploymentId: known.deploymentId });
  }
}
