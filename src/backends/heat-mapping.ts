/** Mappers from Heat's documents to the canonical model of DESIGN §3. */
import { heatServerState } from '../model/states.js';
import type { DeploymentObservation, InstanceObservation } from '../model/types.js';
import { toIsoUtc } from './backend-http.js';
import type { HeatResource, HeatStack } from './heat-schemas.js';

// ---------------------------------------------------------------------------------------
// Mappers to the canonical model.

/** A Heat stack as a deployment observation. */
export function toDeploymentObservation(stack: HeatStack, backendId: string): DeploymentObservation {
  return {
    id: stack.id,
    name: stack.stack_name,
    status: stack.stack_status ?? null,
    statusReason: stack.stack_status_reason ?? null,
    outputs: (stack.outputs ?? []).map((output) => ({
      key: output.output_key,
      value: output.output_value ?? null,
      description: output.description ?? null,
    })),
    backendId,
    updatedAt: toIsoUtc(stack.updated_time) ?? toIsoUtc(stack.creation_time),
  };
}

/** Network names that mean "reachable from outside" even for fixed addresses. */
const PUBLIC_NETWORK = /public|external|ext-net|internet/i;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Nova's `addresses` map → public/private, floating and public-network addresses being public. */
export function novaAddresses(addresses: unknown): { public: string[]; private: string[] } {
  const out = { public: [] as string[], private: [] as string[] };
  if (!isObject(addresses)) return out;
  for (const [network, list] of Object.entries(addresses)) {
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      if (!isObject(entry) || typeof entry.addr !== 'string' || !entry.addr) continue;
      const type = entry['OS-EXT-IPS:type'];
      const isPublic = type === 'floating' || PUBLIC_NETWORK.test(network);
      const bucket = isPublic ? out.public : out.private;
      if (!bucket.includes(entry.addr)) bucket.push(entry.addr);
    }
  }
  return out;
}

export interface ServerMappingContext {
  /** Id of the top-level stack; nested stacks' servers belong to it too. */
  deploymentId: string;
  backendId: string;
  serverResourceTypes: ReadonlySet<string> | readonly string[];
}

/**
 * A server resource as an instance observation, or `null` when the resource is not a
 * server type or has no physical id yet (CREATE_IN_PROGRESS before Nova assigned one):
 * an instance without a real id could never be matched to the one that later appears,
 * so it would surface as a phantom that vanishes.
 *
 * State: the live Nova status from `attributes.show.status` when present, otherwise
 * `resource_status`. Exception: while Heat is deleting the resource (DELETE_*), Heat's
 * status wins, because Nova keeps saying ACTIVE until the server is gone.
 */
export function toInstanceObservation(resource: HeatResource, ctx: ServerMappingContext): InstanceObservation | null {
  const types = ctx.serverResourceTypes;
  const isServer = Array.isArray(types) ? types.includes(resource.resource_type) : (types as ReadonlySet<string>).has(resource.resource_type);
  if (!isServer) return null;
  const physicalId = resource.physical_resource_id?.trim();
  if (!physicalId) return null;

  const attributes = isObject(resource.attributes) ? resource.attributes : {};
  const show = isObject(attributes.show) ? attributes.show : undefined;
  const novaStatus = typeof show?.status === 'string' && show.status ? show.status : undefined;
  const { state, raw } = heatServerState(novaStatus, resource.resource_status ?? null);

  let addresses = novaAddresses(show?.addresses ?? attributes.addresses);
  if (addresses.public.length === 0 && addresses.private.length === 0) {
    // AWS::EC2::Instance exposes PublicIp / PrivateIp instead of Nova's map.
    const pub = attributes.PublicIp;
    const priv = attributes.PrivateIp;
    addresses = {
      public: typeof pub === 'string' && pub ? [pub] : [],
      private: typeof priv === 'string' && priv ? [priv] : [],
    };
  }

  const novaUpdated = typeof show?.updated === 'string' ? show.updated : undefined;
  return {
    id: physicalId,
    deploymentId: ctx.deploymentId,
    name: resource.resource_name,
    state,
    backend: { id: ctx.backendId, kind: 'heat', status: raw },
    addresses,
    updatedAt: toIsoUtc(novaUpdated) ?? toIsoUtc(resource.updated_time) ?? toIsoUtc(resource.creation_time),
  };
}
