import { describe, expect, it } from 'vitest';
import { AdapterError, type PlaceOrder } from '../provider-adapter.js';
import { buildSubmission, extraArgsProblem, leaseDirFor, shellQuote } from './slurm-submission.js';

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
    const uneven = {
      ...order,
      nodes: [order.nodes[0]!, { ...order.nodes[0]!, nodeId: 'n2', externalId: 'gpu-b', gpus: 4 }],
    };
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

  it('asks for CPUs and memory per GPU, partition, account, QoS and reservation, and writes output into the lease directory', () => {
    const { args } = buildSubmission(
      order,
      {
        partition: 'gpu',
        account: 'acme',
        qos: 'market',
        reservation: 'gpumarket-pool',
        cpusPerGpu: 12,
        memPerGpu: '96G',
        extraArgs: ['--constraint=ib', '--exclusive'],
      },
      '/shared/gpumarket/lease-1',
    );
    expect(args).toEqual(
      expect.arrayContaining([
        '--partition=gpu',
        '--account=acme',
        '--qos=market',
        '--reservation=gpumarket-pool',
        '--cpus-per-gpu=12',
        '--mem-per-gpu=96G',
        '--chdir=/shared/gpumarket/lease-1',
        '--output=/shared/gpumarket/lease-1/slurm-%j.out',
        '--error=/shared/gpumarket/lease-1/slurm-%j.err',
        '--constraint=ib',
        '--exclusive',
      ]),
    );
  });

  it("takes the gres type from the grant, else from the provider's model mapping, else asks for untyped GPUs", () => {
    const untyped = { ...order, nodes: [{ nodeId: 'n1', externalId: 'gpu-a', gpus: 4 }] };
    expect(buildSubmission(untyped).args).toContain('--gres=gpu:4');
    expect(buildSubmission(untyped, { gresTypes: { 'H100-SXM-80GB': 'h100_sxm' } }).args).toContain(
      '--gres=gpu:h100_sxm:4',
    );
    expect(buildSubmission(order, { gresTypes: { 'H100-SXM-80GB': 'h100_sxm' } }).args).toContain('--gres=gpu:h100:8');
  });

  it('gives each component of a heterogeneous job its own CPUs and memory per GPU', () => {
    const uneven = {
      ...order,
      nodes: [order.nodes[0]!, { ...order.nodes[0]!, nodeId: 'n2', externalId: 'gpu-b', gpus: 4 }],
    };
    const { args } = buildSubmission(uneven, { cpusPerGpu: 8 });
    expect(args.filter((arg) => arg === '--cpus-per-gpu=8')).toHaveLength(2);
  });

  it.each([
    [['--wrap=rm -rf /'], /not one --flag/],
    [['--export=ALL'], /not an allowed/],
    [['--output=/etc/passwd'], /not an allowed/],
    [['--constraint=a;touch /tmp/x'], /not one --flag/],
    [['--constraint', 'ib'], /not one --flag/],
    [['--constraint=$(id)'], /not one --flag/],
  ])('refuses the extra sbatch arguments %j', (extra, reason) => {
    expect(extraArgsProblem(extra)).toMatch(reason);
    expect(() => buildSubmission(order, { extraArgs: extra })).toThrow(/extraArgs/);
  });

  it.each([
    [{ partition: 'gpu --uid=0' }, /partition/],
    [{ cpusPerGpu: 0 }, /cpusPerGpu/],
    [{ memPerGpu: '1 GB' }, /memPerGpu/],
    [{ gresTypes: { 'H100-SXM-80GB': 'h100:8' } }, /gresTypes/],
  ])('refuses the setting %o, naming it', (settings, reason) => {
    expect(() => buildSubmission(order, settings)).toThrow(reason);
  });

  it('refuses a lease id that would name a directory outside the work directory', () => {
    expect(leaseDirFor('/w/', 'lease-1')).toBe('/w/lease-1');
    expect(() => leaseDirFor('/w', '../etc')).toThrow(AdapterError);
    expect(() => leaseDirFor('/w', 'a/b')).toThrow(AdapterError);
  });

  it('quotes any word so that the shell reads it back unchanged', () => {
    expect(shellQuote(`a'b"c $HOME`)).toBe(`'a'"'"'b"c $HOME'`);
  });
});
