/**
 * Lifecycle functions whose implementation has not landed yet. Each fails loudly; none pretends.
 * Files implementing them replace the export here.
 */
import type * as T from './types';

const notYet = (what: string): never => {
  throw new Error(`openclawps ${what}: not implemented yet`);
};

export const bake = async (_o: T.BakeOptions): Promise<T.BakeResult> => notYet('bake');
export const renderBakeSummary = (_r: T.BakeResult): string => notYet('bake summary');
export const stamp = async (_o: T.StampOptions): Promise<T.StampResult> => notYet('stamp');
export const renderStampSummary = (_r: T.StampResult): string => notYet('stamp summary');
export const upgrade = async (_o: T.UpgradeOptions): Promise<T.UpgradeResult> => notYet('upgrade');
export const renderUpgradeSummary = (_r: T.UpgradeResult): string => notYet('upgrade summary');
export const verify = async (_o: T.VerifyOptions): Promise<T.VerifyResult> => notYet('verify');
export const planFleet = async (_o: T.FleetOptions): Promise<T.FleetPlan> => notYet('fleet plan');
export const rollout = async (_o: T.FleetOptions): Promise<T.FleetPlan> => notYet('fleet rollout');
export const fleetMatrices = (_p: T.FleetPlan): { matrix: unknown; canaryMatrix: unknown } =>
  notYet('fleet matrices');
