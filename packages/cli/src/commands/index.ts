import type { Command } from 'commander';
import { registerLifecycle } from './lifecycle';

/** Each registers one or more subcommands; setExit records the process exit code. */
export type Register = (program: Command, setExit: (code: number) => void) => void;

export const COMMANDS: Register[] = [registerLifecycle];
