/**
 * Host-side library for booting real Linux guests with systemd-nspawn (no ARM knowledge here):
 * cached root filesystems, containers with their own network, loop-device data disks at the Azure
 * LUN links, NoCloud seeds, and cleanup of everything it made. Needs root.
 */
export { CommandError, must, run, type RunOptions, type RunResult } from './proc';
export { cleanupAll, installCleanupHandlers, pendingCleanups, reapStale, RUN_DIR, track } from './cleanup';
export {
  BASE_PACKAGES,
  chrootRun,
  copyRoot,
  debianMirror,
  DEFAULT_CACHE_DIR,
  ensureBaseRoot,
  ensureDerivedRoot,
  ensureRoot,
  overlayRoot,
  removeRoot,
  rootInfo,
  inUseAsLayer,
  rootLayers,
  ensureLayer,
  trashTree,
  pruneRoots,
  unmountBelow,
  trustHostCertificates,
  type EnsureRootOptions,
  type OverlayRoot,
  type RootInfo,
} from './rootfs';
export { attachLoop, createDiskImage, loopsFor, type LoopDevice } from './disk';
export { createNetwork, netnsName, slotAddresses, type GuestNetwork } from './network';
export { SEED_DIR, writeNoCloudSeed, type NoCloudSeed } from './seed';
export {
  Container,
  installDiskLinks,
  startContainer,
  type ContainerDisk,
  type ContainerOptions,
  type ExecOptions,
} from './container';
export { nspawnUnavailable } from './support';
