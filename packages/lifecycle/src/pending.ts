/**
 * Lifecycle functions whose implementation has not landed yet. Each fails loudly; none pretends.
 * Files implementing them replace the export here.
 */
import type * as T from './types';

const notYet = (what: string): never => {
  throw new Error(`openclawps ${what}: not implemented yet`);
};

export const planFleet = async (_o: T.FleetOptions): Promise<T.FleetPlan> => notYet('fleet plan');
export const rollout = async (_o: T.FleetOptions): Promise<T.FleetPlan> => notYet('fleet rollout');
export const fleetMatrices = (_p: T.FleetPlan): { matrix: unknown; canaryMatrix: unknown; allMatrix: unknown } =>
  notYet('fleet matrices');
