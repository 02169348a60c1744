import type { Command } from 'commander';
import { registerLifecycle } from './lifecycle';
import { registerBench } from './bench';
import { registerEmulator } from './emulator';
import { registerDemo } from './demo';
import { registerRender } from './render';

/** Each registers one or more subcommands; setExit records the process exit code. */
export type Register = (program: Command, setExit: (code: number) => void) => void;

export const COMMANDS: Register[] = [
  registerLifecycle,
  registerBench,
  registerEmulator,
  registerDemo,
  registerRender,
];
