import { describe, expect, it } from 'vitest';
import { foreignGpuUse, parseSlurmNodes, planImport } from './slurm-capacity.js';
import { expandHostlist, fromSqueue, gpusOfGres } from './slurm-json.js';

// Lines as `scontrol -o show node` prints them (Slurm 22.05), trimmed of fields the import ignores.
const OUTPUT = [
  'NodeName=gpu-node-1 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 Gres=gpu:h100:8(S:0-1) NodeAddr=10.0.0.1 OS=Linux 6.1.0 #1 SMP PREEMPT_DYNAMIC  State=IDLE ThreadsPerCore=1 Partitions=gpu,long  BootTime=2026-11-22T01:10:04',
  'NodeName=gpu-node-2 Arch=x86_64 Gres=gpu:a100_80g:4,gpu:a100_80g:4 State=MIXED Partitions=gpu',
  'NodeName=gpu-node-3 Arch=x86_64 Gres=gpu:h100:8 State=IDLE+DRAIN Partitions=gpu',
  'NodeName=cpu-node-1 Arch=x86_64 Gres=(null) State=IDLE Partitions=cpu',
  'NodeName=odd-node Arch=x86_64 Gres=gpu:mi300x:8 State=IDLE Partitions=gpu',
].join('\n');

describe('slurm capacity import', () => {
  it('reads node names, GPU gres counts by type, states and partitions', () => {
    const nodes = parseSlurmNodes(OUTPUT);
    expect(nodes[0]).toEqual({ name: 'gpu-node-1', state: 'IDLE', partitions: ['gpu', 'long'], gpus: { h100: 8 } });
    expect(nodes[1]!.gpus).toEqual({ a100_80g: 8 });
    expect(nodes[3]!.gpus).toEqual({});
  });

  it('registers usable GPU nodes under catalogue names and says why it skips the others', () => {
    const plan = planImport(parseSlurmNodes(OUTPUT), { region: 'us-east', block: 'ib-1', reservePrice: '2.10' });
    expect(plan.nodes).toEqual([
      {
        externalId: 'gpu-node-1',
        gpuModel: 'H100-SXM-80GB',
        gpus: 8,
        region: 'us-east',
        block: 'ib-1',
        reservePrice: '2.10',
      },
      {
        externalId: 'gpu-node-2',
        gpuModel: 'A100-SXM-80GB',
        gpus: 8,
        region: 'us-east',
        block: 'ib-1',
        reservePrice: '2.10',
      },
    ]);
    expect(plan.skipped.map((s) => s.node)).toEqual(['gpu-node-3', 'cpu-node-1', 'odd-node']);
    expect(plan.skipped[2]!.reason).toMatch(/--model mi300x=NAME/);
  });

  it('uses an operator-given model name for a gres type the table does not know', () => {
    const plan = planImport(parseSlurmNodes(OUTPUT), {
      region: 'r',
      block: 'b',
      reservePrice: '1',
      models: { mi300x: 'MI300X-192GB' },
      partitions: ['gpu'],
    });
    expect(plan.nodes.map((n) => n.gpuModel)).toContain('MI300X-192GB');
  });

  it("counts the GPUs the provider's own running jobs hold per node, not the market's and not pending ones", () => {
    const jobs = [
      {
        job_id: 1,
        name: 'train-llm',
        job_state: 'RUNNING',
        nodes: 'gpu-node-[1-2]',
        gres_detail: ['gpu:h100:8(IDX:0-7)', 'gpu:h100:4(IDX:0-3)'],
      },
      {
        job_id: 2,
        name: 'gpumarket-lease-1',
        job_state: ['RUNNING'],
        nodes: 'gpu-node-3',
        gres_detail: ['gpu:h100:8(IDX:0-7)'],
      },
      { job_id: 3, name: 'eval', job_state: ['PENDING'], nodes: '', gres_detail: [] },
      { job_id: 4, name: 'notebook', job_state: ['RUNNING'], nodes: 'gpu-node-2', gres_detail: ['gpu:2(IDX:6-7)'] },
    ]
      .map(fromSqueue)
      .filter((job) => job !== undefined);
    expect(Object.fromEntries(foreignGpuUse(jobs))).toEqual({ 'gpu-node-1': 8, 'gpu-node-2': 6 });
  });

  it('expands hostlists and reads GPU counts from gres strings', () => {
    expect(expandHostlist('gpu-[01-03,7],cpu-a')).toEqual(['gpu-01', 'gpu-02', 'gpu-03', 'gpu-7', 'cpu-a']);
    expect(gpusOfGres('gpu:h100:8(IDX:0-7)')).toBe(8);
    expect(gpusOfGres('gpu:a100:2(IDX:0-1),shard:4')).toBe(2);
    expect(gpusOfGres('(null)')).toBe(0);
  });
});
