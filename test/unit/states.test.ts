import { expect } from 'chai';
import { heatServerState, isInProgress, mapDeltacloudState, mapHeatResourceStatus, mapNovaStatus } from '../../src/model/states.js';

// Every row of the three tables in DESIGN §3.
const NOVA: [string, string][] = [
  ['BUILD', 'pending'], ['REBUILD', 'pending'], ['REBOOT', 'pending'], ['HARD_REBOOT', 'pending'],
  ['RESIZE', 'pending'], ['MIGRATING', 'pending'],
  ['ACTIVE', 'running'],
  ['SHUTOFF', 'stopped'], ['SUSPENDED', 'stopped'], ['PAUSED', 'stopped'], ['SHELVED', 'stopped'], ['SHELVED_OFFLOADED', 'stopped'],
  ['ERROR', 'error'],
  ['DELETED', 'vanished'], ['SOFT_DELETED', 'vanished'],
];

const HEAT: [string, string][] = [
  ['CREATE_IN_PROGRESS', 'pending'], ['INIT_COMPLETE', 'pending'],
  ['CREATE_FAILED', 'create_failed'],
  ['DELETE_IN_PROGRESS', 'shutting_down'],
  ['DELETE_COMPLETE', 'vanished'],
  // other *_COMPLETE
  ['CREATE_COMPLETE', 'running'], ['UPDATE_COMPLETE', 'running'], ['RESUME_COMPLETE', 'running'],
  ['SUSPEND_COMPLETE', 'running'], ['CHECK_COMPLETE', 'running'], ['SNAPSHOT_COMPLETE', 'running'],
  ['ROLLBACK_COMPLETE', 'running'], ['ADOPT_COMPLETE', 'running'],
  // other *_FAILED
  ['UPDATE_FAILED', 'error'], ['DELETE_FAILED', 'error'], ['ROLLBACK_FAILED', 'error'], ['SUSPEND_FAILED', 'error'],
];

const DELTACLOUD: [string, string][] = [
  ['START', 'pending'], ['PENDING', 'pending'],
  ['RUNNING', 'running'],
  ['STOPPING', 'shutting_down'], ['SHUTTING_DOWN', 'shutting_down'],
  ['STOPPED', 'stopped'], ['FINISH', 'stopped'],
  ['ERROR', 'error'],
];

const UNKNOWN = ['', 'UNKNOWN', 'FROBNICATED', 'active_ish', 'COMPLETE', '_FAILED', 'IN_PROGRESS', 'UPDATE_IN_PROGRESS ', '✓'];

describe('state mapping (DESIGN §3)', () => {
  for (const [table, map, rows] of [
    ['Nova status', mapNovaStatus, NOVA],
    ['Heat resource_status', mapHeatResourceStatus, HEAT],
    ['Deltacloud state', mapDeltacloudState, DELTACLOUD],
  ] as const) {
    describe(table, () => {
      for (const [raw, state] of rows) {
        it(`${raw} → ${state}`, () => expect(map(raw)).to.equal(state));
      }
      it('is case-insensitive and trims', () => {
        const [raw, state] = rows[0]!;
        expect(map(` ${raw.toLowerCase()} `)).to.equal(state);
      });
      it('maps unrecognised values, null and undefined to unknown, never pending', () => {
        for (const raw of [...UNKNOWN, null, undefined]) {
          const mapped = map(raw);
          expect(mapped, String(raw)).to.equal('unknown');
        }
      });
    });
  }

  it('Heat *_IN_PROGRESS other than create/delete is not guessed', () => {
    expect(mapHeatResourceStatus('UPDATE_IN_PROGRESS')).to.equal('unknown');
  });

  it('isInProgress recognises Heat transitional statuses', () => {
    expect(isInProgress('CREATE_IN_PROGRESS')).to.equal(true);
    expect(isInProgress('update_in_progress')).to.equal(true);
    expect(isInProgress('CREATE_COMPLETE')).to.equal(false);
    expect(isInProgress(null)).to.equal(false);
  });
});

describe('heatServerState', () => {
  it('prefers the live Nova status', () => {
    expect(heatServerState('ERROR', 'CREATE_COMPLETE')).to.deep.equal({ state: 'error', raw: 'ERROR' });
  });
  it('falls back to resource_status without a Nova status', () => {
    expect(heatServerState(undefined, 'CREATE_IN_PROGRESS')).to.deep.equal({ state: 'pending', raw: 'CREATE_IN_PROGRESS' });
    expect(heatServerState(null, null)).to.deep.equal({ state: 'unknown', raw: null });
  });
  it('lets Heat win while it deletes the server', () => {
    expect(heatServerState('ACTIVE', 'DELETE_IN_PROGRESS')).to.deep.equal({ state: 'shutting_down', raw: 'DELETE_IN_PROGRESS' });
    expect(heatServerState('ACTIVE', 'DELETE_COMPLETE')).to.deep.equal({ state: 'vanished', raw: 'DELETE_COMPLETE' });
  });
});
