import { describe, expect, it } from 'vitest';
import { AdapterError, type PlaceOrder } from '../provider-adapter.js';
import { buildSubmission, shellQuote } from './slurm-submission.js';

const order: PlaceOrder = {
  leaseId: 'lease-1',
  bidId: 'bid-1',
  tenantId: 'tenant-1',
  gpuModel: 'H100-SXM-80GB',
  nodes: [{ nodeId: 'n1', externalId: 'gpu-a', gpus: 8, gpuType: 'h100' }],
  workload: { command: ['python', 'train.py', '--name', "it's"], env: { WANDB_MODE: 'offline' } },
  runtimeSeconds: 3600,
};

describe('slurm submission', () => {
  it('asks for the granted GPUs of the granted node under a job name carrying the lease id', () => {
    const { args, script } = buildSubmission(order);
    expect(args).toContain('--job-name=gpumarket-lease-1');
    expect(args).toContain('--nodes=1');
    expect(args).toContain('--nodelist=gpu-a');
    expect(args).toContain('--gres=gpu:h100:8');
    expect(args).toContain('--export=NONE');
    expect(args).toContain('--time=70');
    expect(script).toContain("export WANDB_MODE='offline'");
    expect(script).toContain(`exec 'python' 'train.py' '--name' 'it'"'"'s'`);
  });

  it('spans equal shares over several nodes with srun, one task per node', () => {
    const twoNodes = { ...order, nodes: [order.nodes[0]!, { ...order.nodes[0]!, nodeId: 'n2', externalId: 'gpu-b' }] };
    const { args, script } = buildSubmission(twoNodes);
    expect(args).toContain('--nodes=2');
    expect(args).toContain('--nodelist=gpu-a,gpu-b');
    expect(script).toContain("exec 'srun' '--nodes=2' '--ntasks-per-node=1'");
  });

  it('uses a heterogeneous job when nodes get different GPU counts', () => {
    const uneven = { ...order, nodes: [order.nodes[0]!, { ...order.nodes[0]!, nodeId: 'n2', externalId: 'gpu-b', gpus: 4 }] };
    const { args, script } = buildSubmission(uneven);
    const split = args.indexOf(':');
    expect(args.slice(split + 1)).toEqual(['--nodes=1', '--nodelist=gpu-b', '--gres=gpu:h100:4']);
    expect(args.slice(0, split)).toContain('--gres=gpu:h100:8');
    expect(script).toContain("'--het-group=0-1'");
  });

  it.each([
    ['an image', { image: 'nvcr.io/nvidia/pytorch:24.01', command: ['x'] }],
    ['no command', { command: [] }],
    ['a bad variable name', { command: ['x'], env: { 'A-B': '1' } }],
  ])('rejects a workload with %s as a permanent error', (_name, workload) => {
    expect(() => buildSubmission({ ...order, workload })).toThrow(AdapterError);
    try {
      buildSubmission({ ...order, workload });
    } catch (error) {
      expect((error as AdapterError).kind).toBe('permanent');
    }
  });

  it('quotes any word so that the shell reads it back unchanged', () => {
    expect(shellQuote(`a'b"c $HOME`)).toBe(`'a'"'"'b"c $HOME'`);
  });
});
