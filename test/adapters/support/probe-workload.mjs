#!/usr/bin/env node
// The workload the contract suite runs on real fleets (Slurm jobs, agent children, fake-kubelet
// containers). It records what it saw (node, GPUs, signals) as JSON lines in a log file, so a
// test can check that the adapter started it on exactly the granted GPUs and signalled it.
//   node probe-workload.mjs LOG_FILE '{"kind":"run","seconds":30}'
//   kinds: run (exit 0 after seconds; exit 143 on SIGTERM), exit (exit code after seconds),
//          ignore-term (record SIGTERM, keep running until killed)
import { appendFileSync } from 'node:fs';

const [logFile, behaviourJson] = process.argv.slice(2);
const behaviour = JSON.parse(behaviourJson);
const record = (entry) => appendFileSync(logFile, `${JSON.stringify({ ...entry, at: Date.now() })}\n`);

// The handler goes in before the start record, so a test that saw the start can rely on it.
process.on('SIGTERM', () => {
  record({ event: 'signal', signal: 'SIGTERM' });
  if (behaviour.kind !== 'ignore-term') process.exit(143);
});

record({
  event: 'start',
  pid: process.pid,
  lease: process.env.GPUMARKET_LEASE_ID,
  node: process.env.GPUMARKET_NODE ?? process.env.SLURMD_NODENAME,
  gpus: process.env.CUDA_VISIBLE_DEVICES ?? process.env.NVIDIA_VISIBLE_DEVICES ?? '',
  marker: process.env.GPUMARKET_TEST_MARKER,
});

const seconds = behaviour.seconds ?? behaviour.afterSeconds ?? 0;
setTimeout(() => {
  const code = behaviour.kind === 'exit' ? behaviour.code : 0;
  record({ event: 'exit', code });
  process.exit(code);
}, seconds * 1000);
