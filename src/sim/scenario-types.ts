/** Types and helpers of the simulator's world (see scenario-world.ts). */
export const CHANGE_KINDS = ['launch', 'crash', 'reboot', 'create_failure', 'delete'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** Nova server statuses the simulator produces (DELETED only in notifications and truth). */
export type NovaStatus = 'BUILD' | 'ACTIVE' | 'REBOOT' | 'SHUTOFF' | 'ERROR' | 'DELETED';
export type HeatAction = 'INIT' | 'CREATE' | 'DELETE';
export type HeatStatus = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';

/** Truth record kinds: the change kinds plus the follow-up transitions and the initial world. */
export type TruthKind =
  | 'initial'
  | ChangeKind
  | 'launch_complete'
  | 'reboot_complete'
  | 'create_failed'
  | 'delete_complete';

export interface SimServer {
  /** Nova server id (the Heat resource's physical_resource_id). */
  id: string;
  deploymentId: string;
  /** Template resource name, e.g. `server_3`. */
  resourceName: string;
  /** Nova server name (Heat's physical resource name: stack-resource-suffix). */
  name: string;
  novaStatus: NovaStatus;
  /** Nova task_state that goes with the status (REBOOT is vm_state active + rebooting). */
  taskState: string | null;
  resourceAction: HeatAction;
  resourceStatus: HeatStatus;
  resourceStatusReason: string;
  fixedIp: string;
  floatingIp: string;
  mac: string;
  /** Networking is attached once the server leaves BUILD (an ERROR-at-create server has none). */
  networked: boolean;
  createdAtMs: number;
  /** Nova `updated` (any server change). */
  updatedAtMs: number;
  /** Heat resource updated_time (resource status changes only). */
  resourceUpdatedAtMs: number;
  launchedAtMs: number | null;
}

export interface SimEvent {
  id: string;
  atMs: number;
  resourceName: string;
  physicalResourceId: string;
  resourceType: string;
  action: HeatAction;
  status: HeatStatus;
  reason: string;
}

export interface SimStack {
  id: string;
  name: string;
  action: HeatAction;
  status: HeatStatus;
  statusReason: string;
  createdAtMs: number;
  updatedAtMs: number | null;
  deletedAtMs: number | null;
  serverIds: string[];
  /** Oldest first; bounded by `maxEventsPerStack` as Heat purges old events. */
  events: SimEvent[];
}

/** One ground-truth record: raw backend values, mapped by the comparer with src/model/states.ts. */
export interface TruthRecord {
  seq: number;
  at: string;
  atMs: number;
  kind: TruthKind;
  deploymentId: string;
  instanceId: string | null;
  novaStatus?: NovaStatus;
  /** Heat resource_status as the API shows it, e.g. CREATE_COMPLETE. */
  resourceStatus?: string;
  stackStatus?: string;
  /** Deltacloud state; null when the instance is absent from Deltacloud listings. */
  deltacloudState?: string | null;
}

/** What a change tells push subscribers. */
export type WorldNotice =
  | { type: 'heat-event'; stack: SimStack; event: SimEvent }
  | {
      type: 'nova-update';
      server: SimServer;
      oldStatus: NovaStatus | null;
      oldTaskState: string | null;
      atMs: number;
    };

export interface WorldOptions {
  seed: number | string;
  deployments: number;
  instancesPerDeployment: number;
  /** Random changes per second of world time; 0 disables the random process. */
  changeRate: number;
  /** World time at construction. */
  startMs: number;
  /** @defaultValue 5_000 */
  launchDurationMs?: number;
  /** @defaultValue 3_000 */
  rebootWindowMs?: number;
  /** @defaultValue 2_000 */
  deleteDurationMs?: number;
  /** Heat's max_events_per_stack. @defaultValue 1_000 */
  maxEventsPerStack?: number;
  /** Heat's event_purge_batch_size. @defaultValue 200 */
  eventPurgeBatchSize?: number;
  /** Relative weights of the random change kinds. */
  changeWeights?: Partial<Record<ChangeKind, number>>;
  /** Deltacloud state for SHUTOFF (the real openstack driver says UNKNOWN). @defaultValue 'STOPPED' */
  deltacloudShutoffState?: 'STOPPED' | 'UNKNOWN';
}

export interface Scheduled {
  atMs: number;
  order: number;
  kind: 'launch_complete' | 'create_failed' | 'reboot_complete' | 'delete_complete';
  targetId: string;
}

export const DEFAULT_WEIGHTS: Record<ChangeKind, number> = {
  launch: 2,
  crash: 2,
  reboot: 3,
  create_failure: 1,
  delete: 2,
};

export const SERVER_TYPE = 'OS::Nova::Server';
export const STACK_TYPE = 'OS::Heat::Stack';


export function hex2(n: number): string {
  return (n & 255).toString(16).padStart(2, '0');
}

export function stackEvent(stack: SimStack, atMs: number, id: string): SimEvent {
  return {
    id,
    atMs,
    resourceName: stack.name,
    physicalResourceId: stack.id,
    resourceType: STACK_TYPE,
    action: stack.action,
    status: stack.status,
    reason: stack.statusReason,
  };
}

export function serverEvent(server: SimServer, atMs: number, id: string): SimEvent {
  return {
    id,
    atMs,
    resourceName: server.resourceName,
    physicalResourceId: server.id,
    resourceType: SERVER_TYPE,
    action: server.resourceAction,
    status: server.resourceStatus,
    reason: server.resourceStatusReason,
  };
}
