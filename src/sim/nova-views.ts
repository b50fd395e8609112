/**
 * Nova renderings: the server as `GET /servers/{id}` shows it (Compute API v2.1 reference,
 * "Show Server Details": `status`, `updated`, `addresses` with `OS-EXT-IPS:type`
 * fixed/floating, `OS-EXT-STS:*`), and the legacy `compute.instance.update` notification
 * (nova/notifications/base.py `info_from_instance` + `send_update`), flat or inside the
 * oslo.messaging v2 envelope (`{"oslo.version": "2.0", "oslo.message": "<json>"}`).
 */
import { randomUUID } from 'node:crypto';
import type { SimContext } from './sim-context.js';
import type { NovaStatus, SimServer } from './scenario-world.js';
import { isoSeconds } from './sim-http.js';

/** vm_state (notifications, OS-EXT-STS:vm_state) behind each API status. */
export function vmState(status: NovaStatus): string {
  switch (status) {
    case 'BUILD':
      return 'building';
    case 'ACTIVE':
    case 'REBOOT':
      return 'active';
    case 'SHUTOFF':
      return 'stopped';
    case 'ERROR':
      return 'error';
    case 'DELETED':
      return 'deleted';
  }
}

function powerState(status: NovaStatus): number {
  // nova.compute.power_state: NOSTATE 0, RUNNING 1, SHUTDOWN 4.
  return status === 'ACTIVE' || status === 'REBOOT' ? 1 : status === 'SHUTOFF' ? 4 : 0;
}

/** Nova `addresses`: the fixed and the floating IP both sit under the `private` network. */
export function novaAddresses(server: SimServer): Record<string, Record<string, unknown>[]> {
  if (!server.networked) return {};
  return {
    private: [
      { 'OS-EXT-IPS-MAC:mac_addr': server.mac, version: 4, addr: server.fixedIp, 'OS-EXT-IPS:type': 'fixed' },
      { 'OS-EXT-IPS-MAC:mac_addr': server.mac, version: 4, addr: server.floatingIp, 'OS-EXT-IPS:type': 'floating' },
    ],
  };
}

/** `OS-SRV-USG:launched_at` style: `2013-09-23T13:53:12.000000` (no zone). */
function microsTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}

export function novaServer(ctx: SimContext, server: SimServer, origin: string): Record<string, unknown> {
  const self = `${origin}/compute/v2.1/servers/${server.id}`;
  const out: Record<string, unknown> = {
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-EXT-AZ:availability_zone': 'nova',
    'OS-EXT-STS:power_state': powerState(server.novaStatus),
    'OS-EXT-STS:task_state': server.taskState,
    'OS-EXT-STS:vm_state': vmState(server.novaStatus),
    'OS-SRV-USG:launched_at': server.launchedAtMs === null ? null : microsTime(server.launchedAtMs),
    'OS-SRV-USG:terminated_at': null,
    accessIPv4: '',
    accessIPv6: '',
    addresses: novaAddresses(server),
    config_drive: '',
    created: isoSeconds(server.createdAtMs),
    flavor: { id: '2', links: [{ href: `${origin}/compute/flavors/2`, rel: 'bookmark' }] },
    hostId: server.deploymentId.replace(/-/g, '').slice(0, 28) + 'a1b2c3d4e5f6a7b8c9d0e1f2',
    id: server.id,
    image: { id: '70a599e0-31e7-49b7-b260-868f441e862b', links: [{ href: `${origin}/compute/images/70a599e0-31e7-49b7-b260-868f441e862b`, rel: 'bookmark' }] },
    key_name: null,
    links: [
      { href: self, rel: 'self' },
      { href: `${origin}/compute/servers/${server.id}`, rel: 'bookmark' },
    ],
    metadata: {},
    name: server.name,
    'os-extended-volumes:volumes_attached': [],
    progress: server.novaStatus === 'BUILD' ? 0 : 100,
    security_groups: [{ name: 'default' }],
    status: server.novaStatus,
    tenant_id: ctx.credentials.projectId,
    updated: isoSeconds(server.updatedAtMs),
    user_id: ctx.userId,
  };
  if (server.novaStatus === 'ERROR') {
    out.fault = { code: 500, created: isoSeconds(server.updatedAtMs), message: 'No valid host was found. There are not enough hosts available.' };
  }
  return out;
}

/** Legacy notification timestamps: `str(datetime)`, e.g. `2024-01-01 10:00:00.123456`. */
function pyTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.(\d{3})Z$/, '.$1000');
}

function pyTimeTz(ms: number | null): string {
  return ms === null ? '' : `${new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '')}+00:00`;
}

export interface NovaUpdateInput {
  server: SimServer;
  oldStatus: NovaStatus | null;
  oldTaskState: string | null;
  atMs: number;
}

/** A flat oslo notification for `compute.instance.update`. */
export function computeInstanceUpdate(ctx: SimContext, input: NovaUpdateInput): Record<string, unknown> {
  const { server } = input;
  const fixedIps = server.networked
    ? [
        {
          address: server.fixedIp,
          floating_ips: [{ address: server.floatingIp, type: 'floating', version: 4, meta: {} }],
          label: 'private',
          meta: {},
          type: 'fixed',
          version: 4,
          vif_mac: server.mac,
        },
      ]
    : [];
  const payload = {
    access_ip_v4: null,
    access_ip_v6: null,
    architecture: null,
    audit_period_beginning: pyTime(input.atMs - (input.atMs % 3_600_000)),
    audit_period_ending: pyTime(input.atMs),
    availability_zone: 'nova',
    bandwidth: {},
    cell_name: '',
    created_at: pyTimeTz(server.createdAtMs),
    deleted_at: server.novaStatus === 'DELETED' ? pyTimeTz(input.atMs) : '',
    disk_gb: 20,
    display_name: server.name,
    ephemeral_gb: 0,
    fixed_ips: fixedIps,
    host: 'compute-1',
    hostname: server.name,
    image_meta: { base_image_ref: '70a599e0-31e7-49b7-b260-868f441e862b' },
    image_ref_url: 'http://glance/images/70a599e0-31e7-49b7-b260-868f441e862b',
    instance_flavor_id: '2',
    instance_id: server.id,
    instance_type: 'm1.small',
    instance_type_id: 5,
    kernel_id: '',
    launched_at: pyTimeTz(server.launchedAtMs),
    memory_mb: 2048,
    metadata: { 'heat-stack-id': server.deploymentId, 'heat-resource': server.resourceName },
    new_task_state: server.taskState,
    node: 'compute-1',
    old_state: input.oldStatus === null ? null : vmState(input.oldStatus),
    old_task_state: input.oldTaskState,
    os_type: null,
    progress: '',
    ramdisk_id: '',
    reservation_id: `r-${server.id.slice(0, 8)}`,
    root_gb: 20,
    state: vmState(server.novaStatus),
    state_description: server.taskState ?? '',
    tenant_id: ctx.credentials.projectId,
    terminated_at: server.novaStatus === 'DELETED' ? pyTimeTz(input.atMs) : '',
    user_id: ctx.userId,
    vcpus: 1,
  };
  return {
    event_type: 'compute.instance.update',
    message_id: randomUUID(),
    payload,
    priority: 'INFO',
    publisher_id: 'compute.compute-1',
    timestamp: pyTime(input.atMs),
  };
}

/** oslo.messaging's v2 envelope around a serialized notification. */
export function osloEnvelope(message: Record<string, unknown>): Record<string, unknown> {
  return { 'oslo.version': '2.0', 'oslo.message': JSON.stringify(message) };
}
