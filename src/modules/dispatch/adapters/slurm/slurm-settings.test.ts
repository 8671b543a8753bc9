import { describe, expect, it } from 'vitest';
import { readSlurmSettings } from './slurm-settings.js';

describe('slurm settings from the environment', () => {
  it('reads QoS, reservation, CPUs and memory per GPU, work directory, gres types and extra flags', () => {
    const { settings, problems } = readSlurmSettings({
      SLURM_QOS: 'market',
      SLURM_RESERVATION: 'pool',
      SLURM_CPUS_PER_GPU: '12',
      SLURM_MEM_PER_GPU: '96G',
      SLURM_WORK_DIR: '/shared/gpumarket',
      SLURM_GRES_TYPES: 'H100-SXM-80GB=h100, A100-SXM-80GB=a100',
      SLURM_EXTRA_ARGS: '--constraint=ib  --exclusive',
    });
    expect(problems).toEqual([]);
    expect(settings).toEqual({
      qos: 'market',
      reservation: 'pool',
      cpusPerGpu: 12,
      memPerGpu: '96G',
      workDir: '/shared/gpumarket',
      gresTypes: { 'H100-SXM-80GB': 'h100', 'A100-SXM-80GB': 'a100' },
      extraArgs: ['--constraint=ib', '--exclusive'],
    });
  });

  it('reads nothing when nothing is set', () => {
    expect(readSlurmSettings({})).toEqual({ settings: {}, problems: [] });
  });

  it('names the variable and the rule for every bad value', () => {
    const { problems } = readSlurmSettings({
      SLURM_QOS: 'a b',
      SLURM_CPUS_PER_GPU: 'eight',
      SLURM_MEM_PER_GPU: '1 GB',
      SLURM_WORK_DIR: 'relative/dir',
      SLURM_GRES_TYPES: 'H100',
      SLURM_EXTRA_ARGS: '--wrap=id --uid=0',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^SLURM_CPUS_PER_GPU=eight: must be a positive integer/),
      expect.stringMatching(/^SLURM_WORK_DIR=relative\/dir: must be an absolute path/),
      expect.stringMatching(/^SLURM_GRES_TYPES: "H100" is not MODEL=type/),
      expect.stringMatching(/^SLURM_QOS: "a b" is not a Slurm name/),
      expect.stringMatching(/^SLURM_MEM_PER_GPU: "1 GB" must be a number/),
      expect.stringMatching(/^SLURM_EXTRA_ARGS: --wrap is not an allowed extra sbatch flag/),
    ]);
  });
});
