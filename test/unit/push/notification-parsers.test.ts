import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { InputError } from '../../../src/errors.js';
import { mapNovaVmState, novaApiStatus } from '../../../src/model/states.js';
import { parseAodhAlarm, parseBackendTime, parsePushBody, type InstanceUpdate, type StackUpdate } from '../../../src/push/notification-parsers.js';

const fixture = (path: string) => JSON.parse(readFileSync(`test/fixtures/${path}`, 'utf8')) as Record<string, unknown>;
const envelope = (m: unknown) => ({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(m) });

describe('notification parsers', () => {
  it('reads Nova\'s versioned instance.update sample (building + scheduling → pending, raw BUILD)', () => {
    const [update] = parsePushBody('heat-1', fixture('notifications/nova-instance-update.json')) as InstanceUpdate[];
    expect(update).to.deep.include({
      kind: 'instance',
      backendId: 'heat-1',
      event: 'instance.update',
      instanceId: 'c03c0bf9-f46e-4e4f-93f1-817568567ee2',
      state: 'pending',
      rawStatus: 'BUILD',
      // The sample has no timestamp (Nova's samples omit it); the applier then uses "now".
      atMs: null,
    });
    expect(update!.addresses).to.deep.equal({ private: [] });
  });

  it('reads Nova\'s versioned instance.delete.end sample as vanished, in the envelope too', () => {
    const sample = { ...fixture('notifications/nova-instance-delete-end.json'), timestamp: '2012-10-29 13:42:11.500000' };
    for (const doc of [sample, envelope(sample)]) {
      const [update] = parsePushBody('heat-1', doc) as InstanceUpdate[];
      expect(update).to.deep.include({ instanceId: '178b0921-8f85-4257-88b6-2e743b5a975c', state: 'vanished', rawStatus: 'DELETED', atMs: Date.parse('2012-10-29T13:42:11.500Z') });
    }
  });

  it('reads an orchestration notification in the oslo.message envelope: the stack, its name and its new status', () => {
    const [update] = parsePushBody('heat-1', fixture('push/oslo-envelope-stack.json')) as StackUpdate[];
    expect(update).to.deep.include({
      kind: 'stack',
      backendId: 'heat-1',
      event: 'orchestration.stack.update.end',
      stackId: '2f5e3a0c-1c5d-4c7a-8f4e-6b9d1e2a3c4d',
      stackName: 'shop',
      status: 'UPDATE_COMPLETE',
      statusReason: 'Stack UPDATE completed successfully',
      atMs: Date.parse('2026-11-25T10:00:06.000Z'),
    });
  });

  it('reads the legacy compute.instance.update: vm_state error, the stack from Heat\'s metadata, the timestamp', () => {
    const [update] = parsePushBody('heat-1', fixture('push/compute-instance-update.json')) as InstanceUpdate[];
    expect(update).to.deep.equal({
      kind: 'instance',
      backendId: 'heat-1',
      event: 'compute.instance.update',
      instanceId: '0d3b4b1e-8a0d-4f41-a3f5-4c1f1a7d2e11',
      stackId: '2f5e3a0c-1c5d-4c7a-8f4e-6b9d1e2a3c4d',
      state: 'error',
      rawStatus: 'ERROR',
      atMs: Date.parse('2026-11-25T10:00:05.123Z'),
      addresses: { public: [], private: [] },
    });
  });

  it('takes new_task_state of a legacy update and floating IPs as public', () => {
    const doc = {
      event_type: 'compute.instance.update',
      timestamp: '2026-11-25 10:00:05.000001',
      payload: {
        instance_id: 'srv-1',
        state: 'active',
        old_task_state: null,
        new_task_state: 'rebooting',
        state_description: '',
        fixed_ips: [{ address: '10.0.0.5', label: 'private', floating_ips: [{ address: '172.16.0.5' }] }],
      },
    };
    const [update] = parsePushBody('h', doc) as InstanceUpdate[];
    expect(update).to.deep.include({ state: 'pending', rawStatus: 'REBOOT' });
    expect(update!.addresses).to.deep.equal({ public: ['172.16.0.5'], private: ['10.0.0.5'] });
  });

  it('reads a Heat stack failure at ERROR priority (payload keys of format_notification_body)', () => {
    const [update] = parsePushBody('heat-1', envelope(fixture('notifications/heat-stack-create-error.json'))) as StackUpdate[];
    expect(update).to.deep.include({
      kind: 'stack',
      event: 'orchestration.stack.create.error',
      stackId: '2f5e3a0c-1c5d-4c7a-8f4e-6b9d1e2a3c4d',
      stackName: 'shop',
      status: 'CREATE_FAILED',
      heatUpdatedAt: '2026-11-25T10:00:00.000Z',
      atMs: Date.parse('2026-11-25T10:02:07.654Z'),
    });
    expect(update!.statusReason).to.match(/^Resource CREATE failed/);
  });

  it('reads the older ARN stack_identity and derives the status from the event type when state is "Unknown"', () => {
    const [update] = parsePushBody('h', {
      event_type: 'orchestration.stack.delete.end',
      payload: { stack_identity: 'arn:openstack:heat::t1:stacks/shop/2f5e3a0c', stack_name: 'shop', state: 'Unknown' },
    }) as StackUpdate[];
    expect(update).to.deep.include({ stackId: '2f5e3a0c', stackName: 'shop', status: 'DELETE_COMPLETE' });
  });

  it('reads an Aodh event-alarm body (vm_state only, generated as time)', () => {
    const [update] = parseAodhAlarm('heat-1', fixture('notifications/aodh-event-alarm.json')) as InstanceUpdate[];
    expect(update).to.deep.include({
      kind: 'instance',
      instanceId: '0d3b4b1e-8a0d-4f41-a3f5-4c1f1a7d2e11',
      state: 'stopped',
      rawStatus: 'SHUTOFF',
      atMs: Date.parse('2026-11-25T10:03:11.123Z'),
    });
    // The same body through the ingest parser.
    expect(parsePushBody('heat-1', fixture('notifications/aodh-event-alarm.json'))).to.have.length(1);
  });

  it('rejects an Aodh threshold alarm (no event) naming reason_data', () => {
    const body = { alarm_id: 'a', alarm_name: 'cpu', current: 'alarm', previous: 'ok', reason: 'x', reason_data: { type: 'threshold', disposition: 'outside' } };
    expect(() => parsePushBody('h', body)).to.throw(InputError).with.property('errors').that.deep.includes({
      path: 'body.reason_data',
      message: 'only event alarms are accepted: reason_data must be {type: "event", event: {event_type, traits}}',
    });
  });

  it('keeps Heat event-sink messages as hints and rejects the unrecognised naming the formats', () => {
    const [hint] = parsePushBody('h', fixture('push/zaqar-heat-event.json'));
    expect(hint).to.have.property('kind', 'hint');
    expect(() => parsePushBody('h', [{ hello: 'world' }])).to.throw(InputError).with.property('errors').that.satisfies((e: { path: string; message: string }[]) => e[0]!.path === 'body.0' && /Aodh event-alarm/.test(e[0]!.message));
  });

  it('ignores notifications about things it does not track', () => {
    expect(parsePushBody('h', { event_type: 'volume.create.end', payload: { volume_id: 'v' } })).to.deep.equal([]);
    expect(parsePushBody('h', envelope({ event_type: 'image.upload', payload: {} }))).to.deep.equal([]);
  });

  it('parses oslo and ISO timestamps, and nothing else', () => {
    expect(parseBackendTime('2026-11-25 10:00:05.123456')).to.equal(Date.parse('2026-11-25T10:00:05.123Z'));
    expect(parseBackendTime('2026-11-25T10:00:05Z')).to.equal(Date.parse('2026-11-25T10:00:05Z'));
    expect(parseBackendTime('2026-11-25T12:00:05+02:00')).to.equal(Date.parse('2026-11-25T10:00:05Z'));
    expect(parseBackendTime('yesterday')).to.equal(null);
    expect(parseBackendTime(12)).to.equal(null);
  });
});

describe('Nova vm_state + task_state (DESIGN §10)', () => {
  const rows: [string, string | null, string, string][] = [
    ['building', 'spawning', 'pending', 'BUILD'],
    ['active', null, 'running', 'ACTIVE'],
    ['active', 'rebooting', 'pending', 'REBOOT'],
    ['active', 'rebooting_hard', 'pending', 'HARD_REBOOT'],
    ['active', 'rebuilding', 'pending', 'REBUILD'],
    ['active', 'resize_migrating', 'pending', 'RESIZE'],
    ['active', 'migrating', 'pending', 'MIGRATING'],
    ['active', 'deleting', 'shutting_down', 'ACTIVE'],
    ['stopped', null, 'stopped', 'SHUTOFF'],
    ['suspended', null, 'stopped', 'SUSPENDED'],
    ['paused', null, 'stopped', 'PAUSED'],
    ['shelved_offloaded', null, 'stopped', 'SHELVED_OFFLOADED'],
    ['resized', null, 'running', 'VERIFY_RESIZE'],
    ['rescued', null, 'error', 'RESCUE'],
    ['error', null, 'error', 'ERROR'],
    ['error', 'deleting', 'shutting_down', 'ERROR'],
    ['deleted', null, 'vanished', 'DELETED'],
    ['soft-delete', null, 'vanished', 'SOFT_DELETED'],
  ];
  for (const [vm, task, state, raw] of rows) {
    it(`${vm} + ${task ?? 'none'} → ${state} (${raw})`, () => {
      expect(mapNovaVmState(vm, task)).to.equal(state);
      expect(novaApiStatus(vm, task)).to.equal(raw);
    });
  }
  it('an unknown vm_state is unknown, never pending', () => {
    expect(mapNovaVmState('levitating', null)).to.equal('unknown');
    expect(novaApiStatus('levitating', null)).to.equal(null);
  });
});
