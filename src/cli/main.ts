#!/usr/bin/env node
import 'reflect-metadata';
import { main } from './commands.js';

/** `gpumarket <command> [options]`: see commands.ts. */
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
