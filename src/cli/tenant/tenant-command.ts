import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TenantClient } from './tenant-client.js';
import { loadTenantConfig } from './tenant-config.js';
import { ApiError, describeError, EXIT, exitCodeOf, UsageError } from './tenant-errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What a tenant command's body gets: its parsed flags, and the client once it needs one. */
export interface TenantContext<V> {
  readonly values: V & { json?: boolean };
  /** Positional arguments before a `--`. */
  readonly positionals: string[];
  /** The arguments after `--`, untouched (a workload's command). */
  readonly rest: string[];
  readonly json: boolean;
  readonly now: Date;
  /** Loads the configuration on first use, so that a bad flag is reported before a missing key. */
  client(): Promise<TenantClient>;
  print(text: string): void;
  /** Notes for a person: stderr under --json (stdout stays the API's JSON), stdout otherwise. */
  note(text: string): void;
  /** Prints the API's JSON as is under --json, or the table otherwise. */
  output(body: unknown, human: () => string): void;
}

/** A tenant command: `--json` and `--help` on top of its own options. */
export interface TenantCommand {
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}

/**
 * The frame every tenant command shares: strict flags (an unknown or malformed one is a usage
 * error naming it), lazy configuration, and one mapping of failures to exit codes and messages.
 */
export function tenantCommand<V>(
  name: string,
  usage: string,
  options: Options,
  body: (context: TenantContext<V>) => Promise<number | void>,
): TenantCommand {
  return {
    usage,
    async run(argv: string[]): Promise<number> {
      const end = argv.indexOf('--');
      const before = end === -1 ? argv : argv.slice(0, end);
      const rest = end === -1 ? [] : argv.slice(end + 1);
      let json = before.includes('--json');
      try {
        let parsed;
        try {
          parsed = parseArgs({
            args: before,
            options: { ...options, json: { type: 'boolean' } },
            allowPositionals: true,
            strict: true,
          });
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        json = parsed.values.json === true;
        let client: TenantClient | null = null;
        const context: TenantContext<V> = {
          values: parsed.values as V & { json?: boolean },
          positionals: parsed.positionals,
          rest,
          json,
          now: new Date(),
          async client() {
            client ??= new TenantClient(await loadTenantConfig());
            return client;
          },
          print: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
          note: (text) => (json ? process.stderr : process.stdout).write(`${text}\n`),
          output(result, human) {
            this.print(json ? JSON.stringify(result, null, 2) : human());
          },
        };
        return (await body(context)) ?? EXIT.ok;
      } catch (error) {
        // Under --json the API's own error body goes to stdout too, for a script to read.
        if (json && error instanceof ApiError) process.stdout.write(`${JSON.stringify(error.body, null, 2)}\n`);
        const hint = error instanceof UsageError ? `\n'gpumarket ${name} --help' lists the flags` : '';
        process.stderr.write(`gpumarket ${name}: ${describeError(error)}${hint}\n`);
        return exitCodeOf(error);
      }
    },
  };
}

/** Exactly `count` positional arguments, named in the message when missing. */
export function expectPositionals(positionals: readonly string[], names: readonly string[]): string[] {
  if (positionals.length < names.length) throw new UsageError(`missing ${names.slice(positionals.length).join(', ')}`);
  if (positionals.length > names.length)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[names.length])}`);
  return [...positionals];
}
