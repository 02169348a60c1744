export * from './types';
export {
  bake,
  renderBakeSummary,
  BAKE_PHASES,
  BAKE_PHASE_TABLE,
  BakeError,
  bakeProblems,
  builderResourceGroup,
  readExtraUpdates,
} from './bake';
export { stamp, renderStampSummary, stampProblems } from './stamp';
export {
  upgrade,
  renderUpgradeSummary,
  upgradeProblems,
  parseMarker,
  decodeState,
  encodeState,
  UpgradeRefused,
  UPGRADE_STATE_TAG,
  type UpgradeState,
  type UpgradeMarker,
} from './upgrade';
export { verify, resolveVerifyHost, verifyProblems } from './verify';
export * from './phases';
export { BOOT_STATUS_COMMAND, parseBootStatus, defaultOwner, publicKeyOf } from './shared';
export * from './fleet';
