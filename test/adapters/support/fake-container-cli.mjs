#!/usr/bin/env node
// Stands in for docker, podman and nvidia-ctk (by the name it is called as) where no container
// engine can start containers (podman 4.3 cannot in this sandbox). It records every argv as a JSON
// line in $FAKE_CLI_DIR/calls.jsonl and plays back container states kept in $FAKE_CLI_DIR/<name>.json:
//   run -d --name N ...      -> N running, prints an id
//   inspect ... N            -> {"Status","Running","ExitCode"} of N, or "Error: No such object" (exit 1)
//   stop -t S N              -> N exited 143 (SIGTERM), kill N -> exited 137
//   rm -f N                  -> N gone
//   version                  -> ok
//   nvidia-ctk cdi list      -> the lines of $FAKE_CLI_DIR/cdi.txt
// A test ends a container itself by writing its state file.
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const dir = process.env.FAKE_CLI_DIR;
if (!dir) {
  process.stderr.write('fake container cli: FAKE_CLI_DIR is not set\n');
  process.exit(2);
}
const tool = basename(process.argv[1]);
const args = process.argv.slice(2);
appendFileSync(join(dir, 'calls.jsonl'), `${JSON.stringify([tool, ...args])}\n`);
const stateFile = (name) => join(dir, `${name}.json`);
const noSuch = (name) => {
  process.stderr.write(`Error: No such object: ${name}\n`);
  process.exit(1);
};

if (tool === 'nvidia-ctk') {
  if (args.join(' ') !== 'cdi list') process.exit(2);
  process.stdout.write(existsSync(join(dir, 'cdi.txt')) ? readFileSync(join(dir, 'cdi.txt'), 'utf8') : '');
  process.exit(0);
}
const [command] = args;
const last = args[args.length - 1];
switch (command) {
  case 'version':
    process.stdout.write('fake 1.0\n');
    break;
  case 'run': {
    const name = args[args.indexOf('--name') + 1];
    writeFileSync(stateFile(name), JSON.stringify({ Status: 'running', Running: true, ExitCode: 0 }));
    process.stdout.write('0123456789abcdef\n');
    break;
  }
  case 'inspect':
    if (!existsSync(stateFile(last))) noSuch(last);
    process.stdout.write(`${readFileSync(stateFile(last), 'utf8')}\n`);
    break;
  case 'stop':
  case 'kill':
    if (!existsSync(stateFile(last))) noSuch(last);
    writeFileSync(
      stateFile(last),
      JSON.stringify({ Status: 'exited', Running: false, ExitCode: command === 'stop' ? 143 : 137 }),
    );
    process.stdout.write(`${last}\n`);
    break;
  case 'rm':
    if (!existsSync(stateFile(last))) noSuch(last);
    rmSync(stateFile(last));
    process.stdout.write(`${last}\n`);
    break;
  default:
    process.stderr.write(`fake container cli: unexpected ${args.join(' ')}\n`);
    process.exit(2);
}
