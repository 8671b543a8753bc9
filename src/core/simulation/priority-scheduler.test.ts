import { describe, expect, it } from 'vitest';
import { simulate } from './engine.js';
import { FirstFitScheduler } from './first-fit-scheduler.js';
import { computeMetrics } from './metrics.js';
import { jobPriority, PriorityScheduler } from './priority-scheduler.js';
import { job, node, workload } from './sim-fixtures.test-helpers.js';
import type { SimJob } from './workload.js';

const wide = { notBefore: 0, deadline: 100_000 };
const fixedNow = (id: string, arrival: number, gpus: number, runtime: number) => job(id, 't', arrival, gpus, runtime);
const fixedWindow = (id: string, arrival: number, gpus: number, runtime: number) =>
  job(id, 't', arrival, gpus, runtime, { window: wide });
const preemptible = (id: string, arrival: number, gpus: number, runtime: number) =>
  job(id, 't', arrival, gpus, runtime, { preemptible: true, window: wide });

async function runPriority(jobs: SimJob[], nodes = [node('n1')], hours = 6) {
  const w = workload(nodes, jobs, hours * 3600);
  const run = await simulate(w, w.nodes, new PriorityScheduler(w.nodes, w.params.preemptionNoticeSeconds));
  const at = (id: string) => jobs.findIndex((j) => j.id === id);
  return {
    w,
    run,
    start: (id: string) => run.firstStart[at(id)],
    done: (id: string) => run.completedAt[at(id)],
    preempted: (id: string) => run.preemptions[at(id)],
  };
}

describe('priority queue with preemption and backfill (Kueue / Slurm rules, hand-checked on one 8-GPU node)', () => {
  it('ranks fixed work that must run now over fixed windowed work over preemptible work', () => {
    expect(
      [
        fixedNow('a', 0, 1, 1),
        fixedWindow('b', 0, 1, 1),
        preemptible('c', 0, 1, 1),
        job('d', 't', 0, 1, 1, { preemptible: true }),
      ].map(jobPriority),
    ).toEqual([2, 1, 0, 0]);
  });

  // Each row: jobs (all whole-node gangs unless stated), then the start second of each, and who was preempted.
  const cases: { name: string; jobs: SimJob[]; starts: Record<string, number>; preempted: Record<string, number> }[] = [
    {
      name: 'arriving together, the classes start in priority order, not arrival order',
      jobs: [preemptible('P', 0, 8, 600), fixedWindow('W', 0, 8, 600), fixedNow('F', 0, 8, 600)],
      starts: { F: 0, W: 600, P: 1200 },
      preempted: { P: 0, W: 0, F: 0 },
    },
    {
      name: 'fixed work preempts a preemptible lease past its protection; it starts when the 120 s notice ends and the preempted job resumes after it',
      jobs: [preemptible('P', 0, 8, 7200), fixedNow('F', 900, 8, 600)],
      starts: { P: 0, F: 1020 },
      preempted: { P: 1, F: 0 },
    },
    {
      name: 'a preemptible lease is protected for minHoldSeconds (600 s) after it starts, as in the market',
      jobs: [preemptible('P', 0, 8, 7200), fixedNow('F', 300, 8, 600)],
      starts: { P: 0, F: 720 },
      preempted: { P: 1, F: 0 },
    },
    {
      name: 'fixed windowed work also preempts preemptible work',
      jobs: [preemptible('P', 0, 8, 7200), fixedWindow('W', 900, 8, 600)],
      starts: { P: 0, W: 1020 },
      preempted: { P: 1, W: 0 },
    },
    {
      name: 'non-preemptible work is never preempted, whatever its class',
      jobs: [fixedWindow('W', 0, 8, 3600), fixedNow('F', 900, 8, 600)],
      starts: { W: 0, F: 3600 },
      preempted: { W: 0, F: 0 },
    },
    {
      name: 'preemptible work never preempts preemptible work',
      jobs: [preemptible('P1', 0, 8, 3600), job('P2', 't', 900, 8, 600, { preemptible: true })],
      starts: { P1: 0, P2: 3600 },
      preempted: { P1: 0, P2: 0 },
    },
    {
      // A holds 6 GPUs until 3600; H (8 GPUs) is blocked and holds a reservation for 3600. L (2 GPUs
      // for 2 h) would still run then, so it must wait; S (2 GPUs for 30 min) ends by 3600: backfilled.
      name: 'backfill: a small job that ends before the head job can start runs now; one that would delay it waits',
      jobs: [
        fixedNow('A', 0, 6, 3600),
        fixedNow('H', 60, 8, 600),
        fixedNow('L', 60, 2, 7200),
        fixedNow('S', 60, 2, 1800),
      ],
      starts: { A: 0, S: 60, H: 3600, L: 4200 },
      preempted: { A: 0, H: 0, L: 0, S: 0 },
    },
  ];
  for (const c of cases)
    it(c.name, async () => {
      const r = await runPriority(c.jobs);
      expect(Object.fromEntries(Object.keys(c.starts).map((id) => [id, r.start(id)]))).toEqual(c.starts);
      expect(Object.fromEntries(Object.keys(c.preempted).map((id) => [id, r.preempted(id)]))).toEqual(c.preempted);
    });

  it('the preempted job resumes with the run time it still needs (credited across the notice), after the fixed job ends', async () => {
    const r = await runPriority([preemptible('P', 0, 8, 7200), fixedNow('F', 900, 8, 600)]);
    // P ran 0..1020 (notice included), F 1020..1620, P again from 1620 for the remaining 6180 s.
    expect(r.done('F')).toBe(1620);
    expect(r.done('P')).toBe(1620 + 7200 - 1020);
  });

  it('FIFO first-fit on the same demand starts the long small job at once and delays the big one (what backfill prevents)', async () => {
    const jobs = [
      fixedNow('A', 0, 6, 3600),
      fixedNow('H', 60, 8, 600),
      fixedNow('L', 60, 2, 7200),
      fixedNow('S', 60, 2, 1800),
    ];
    const w = workload([node('n1')], jobs, 6 * 3600);
    const run = await simulate(w, w.nodes, new FirstFitScheduler('fifo', 'list', w.nodes));
    // L takes the 2 free GPUs at 60; S gets A's when it ends at 3600; H waits for L until 7260.
    expect(Array.from(run.firstStart)).toEqual([0, 7260, 60, 3600]);
    const m = computeMetrics(w, run);
    expect(m.preemptions).toBe(0);
  });
});
