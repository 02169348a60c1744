/** The no-root sandbox guest backend (see guest.ts for the design). */
export { SandboxGuest, findPayloadDir, type SandboxGuestOptions } from './guest';
export { rewritePaths, HOST_DIRS } from './rewrite';
export { SHIMS } from './shims';
