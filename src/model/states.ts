/**
 * The three state-mapping tables of DESIGN §3, as functions. Conductor's vocabulary is the
 * only one the cache and the API speak; an unrecognised backend value is `unknown`, never
 * `pending`, and callers keep the raw value in `backend.status`.
 */

export const INSTANCE_STATES = [
  'pending',
  'running',
  'shutting_down',
  'stopped',
  'create_failed',
  'error',
  'vanished',
  'unknown',
] as const;

export type InstanceState = (typeof INSTANCE_STATES)[number];

/** States in which something is still moving; adaptive polling watches these closely. */
export const TRANSITIONAL_STATES: ReadonlySet<InstanceState> = new Set(['pending', 'shutting_down']);

const NOVA: Readonly<Record<string, InstanceState>> = {
  BUILD: 'pending',
  REBUILD: 'pending',
  REBOOT: 'pending',
  HARD_REBOOT: 'pending',
  RESIZE: 'pending',
  MIGRATING: 'pending',
  ACTIVE: 'running',
  SHUTOFF: 'stopped',
  SUSPENDED: 'stopped',
  PAUSED: 'stopped',
  SHELVED: 'stopped',
  SHELVED_OFFLOADED: 'stopped',
  ERROR: 'error',
  DELETED: 'vanished',
  SOFT_DELETED: 'vanished',
};

const HEAT_RESOURCE: Readonly<Record<string, InstanceState>> = {
  CREATE_IN_PROGRESS: 'pending',
  INIT_COMPLETE: 'pending',
  CREATE_FAILED: 'create_failed',
  DELETE_IN_PROGRESS: 'shutting_down',
  DELETE_COMPLETE: 'vanished',
};

const DELTACLOUD: Readonly<Record<string, InstanceState>> = {
  START: 'pending',
  PENDING: 'pending',
  RUNNING: 'running',
  STOPPING: 'shutting_down',
  SHUTTING_DOWN: 'shutting_down',
  STOPPED: 'stopped',
  FINISH: 'stopped',
  ERROR: 'error',
};

function norm(raw: string | null | undefined): string {
  return (raw ?? '').trim().toUpperCase();
}

/** Nova server status (as Heat exposes it in server resource attributes) → state. */
export function mapNovaStatus(raw: string | null | undefined): InstanceState {
  return NOVA[norm(raw)] ?? 'unknown';
}

/** Heat `resource_status` → state, used when no live server status is available. */
export function mapHeatResourceStatus(raw: string | null | undefined): InstanceState {
  const status = norm(raw);
  const exact = HEAT_RESOURCE[status];
  if (exact) return exact;
  // Only well-formed ACTION_STATUS values fall into the generic rows; "COMPLETE" alone is unknown.
  if (/^[A-Z]+_COMPLETE$/.test(status)) return 'running';
  if (/^[A-Z]+_FAILED$/.test(status)) return 'error';
  return 'unknown';
}

/** Deltacloud instance `state` → state. */
export function mapDeltacloudState(raw: string | null | undefined): InstanceState {
  return DELTACLOUD[norm(raw)] ?? 'unknown';
}

/** Heat stack_status / resource_status values that mean "still moving". */
export function isInProgress(rawStatus: string | null | undefined): boolean {
  return norm(rawStatus).endsWith('_IN_PROGRESS');
}

/**
 * The state of a Heat server resource: the live Nova status when Heat exposes it, otherwise
 * `resource_status`. While Heat deletes the resource (DELETE_*), Heat's status wins, because
 * Nova keeps saying ACTIVE until the server is gone. `raw` is the value the state came from.
 */
export function heatServerState(
  novaStatus: string | null | undefined,
  resourceStatus: string | null | undefined,
): { state: InstanceState; raw: string | null } {
  const deleting = /^DELETE_/.test(norm(resourceStatus));
  if (novaStatus && !deleting) return { state: mapNovaStatus(novaStatus), raw: novaStatus };
  return { state: mapHeatResourceStatus(resourceStatus), raw: resourceStatus ?? null };
}

/**
 * Nova's API status for a `vm_state` + `task_state` pair, as Nova computes it
 * (nova/api/openstack/common.py `_STATE_MAP`). Notifications carry the pair; the cache keeps
 * the API status as the raw value, so a push and a poll of the same server agree on it.
 */
const NOVA_API_STATUS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  active: {
    default: 'ACTIVE',
    rebooting: 'REBOOT',
    reboot_pending: 'REBOOT',
    reboot_started: 'REBOOT',
    rebooting_hard: 'HARD_REBOOT',
    reboot_pending_hard: 'HARD_REBOOT',
    reboot_started_hard: 'HARD_REBOOT',
    updating_password: 'PASSWORD',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
    migrating: 'MIGRATING',
    resize_prep: 'RESIZE',
    resize_migrating: 'RESIZE',
    resize_migrated: 'RESIZE',
    resize_finish: 'RESIZE',
  },
  building: { default: 'BUILD' },
  stopped: {
    default: 'SHUTOFF',
    resize_prep: 'RESIZE',
    resize_migrating: 'RESIZE',
    resize_migrated: 'RESIZE',
    resize_finish: 'RESIZE',
    rebuilding: 'REBUILD',
    rebuild_block_device_mapping: 'REBUILD',
    rebuild_spawning: 'REBUILD',
  },
  resized: { default: 'VERIFY_RESIZE', resize_reverting: 'REVERT_RESIZE' },
  paused: { default: 'PAUSED', migrating: 'MIGRATING' },
  suspended: { default: 'SUSPENDED' },
  rescued: { default: 'RESCUE' },
  error: { default: 'ERROR', rebuilding: 'REBUILD', rebuild_block_device_mapping: 'REBUILD', rebuild_spawning: 'REBUILD' },
  deleted: { default: 'DELETED' },
  'soft-delete': { default: 'SOFT_DELETED' },
  shelved: { default: 'SHELVED' },
  shelved_offloaded: { default: 'SHELVED_OFFLOADED' },
};

/** Nova API status of a `vm_state`/`task_state` pair; null for an unknown vm_state. */
export function novaApiStatus(vmState: string | null | undefined, taskState: string | null | undefined): string | null {
  const row = NOVA_API_STATUS[(vmState ?? '').trim().toLowerCase()];
  if (!row) return null;
  return row[(taskState ?? '').trim().toLowerCase()] ?? row.default!;
}

/**
 * A server's state from a notification's `vm_state` + `task_state` (DESIGN §10). The task
 * decides while the server is moving: `deleting`/`soft-deleting` → shutting_down;
 * rebooting, rebuilding, resizing, migrating, spawning → pending. Otherwise the vm_state:
 * building → pending, active → running, stopped/suspended/paused/shelved* → stopped,
 * resized (awaiting confirm) → running, rescued → error (the server is not running its own
 * disk), error → error, deleted/soft-delete → vanished. An unknown vm_state is `unknown`.
 */
export function mapNovaVmState(vmState: string | null | undefined, taskState: string | null | undefined): InstanceState {
  const vm = (vmState ?? '').trim().toLowerCase();
  const task = (taskState ?? '').trim().toLowerCase();
  if (vm === 'deleted' || vm === 'soft-delete') return 'vanished';
  if (task === 'deleting' || task === 'soft-deleting') return 'shutting_down';
  if (/^(rebooting|reboot_|rebuild|resize_|migrating|spawning|block_device_mapping|networking|scheduling)/.test(task) && vm !== 'error') {
    return 'pending';
  }
  switch (vm) {
    case 'building':
      return 'pending';
    case 'active':
    case 'resized':
      return 'running';
    case 'stopped':
    case 'suspended':
    case 'paused':
    case 'shelved':
    case 'shelved_offloaded':
      return 'stopped';
    case 'error':
    case 'rescued':
      return 'error';
    default:
      return 'unknown';
  }
}
