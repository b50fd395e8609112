/** Builders for observations used across tests. */
import type { DeploymentObservation, InstanceObservation } from '../../src/model/types.js';

export function instanceObs(overrides: Partial<InstanceObservation> = {}): InstanceObservation {
  return {
    id: 'srv-1',
    deploymentId: 'stack-1',
    name: 'web',
    state: 'running',
    backend: { id: 'heat-1', kind: 'heat', status: 'ACTIVE' },
    addresses: { public: [], private: ['10.0.0.5'] },
    updatedAt: '2026-11-25T10:00:00Z',
    ...overrides,
  };
}

export function deploymentObs(overrides: Partial<DeploymentObservation> = {}): DeploymentObservation {
  return {
    id: 'stack-1',
    name: 'shop',
    status: 'CREATE_IN_PROGRESS',
    statusReason: 'Stack CREATE started',
    outputs: [],
    backendId: 'heat-1',
    updatedAt: '2026-11-25T10:00:00Z',
    ...overrides,
  };
}

/** ISO time `seconds` after a fixed origin. */
export function at(seconds: number): string {
  return new Date(Date.UTC(2026, 10, 25, 10, 0, 0) + seconds * 1_000).toISOString();
}
