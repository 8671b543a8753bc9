import { settingsProblems, type SlurmSubmissionOptions } from './slurm-submission.js';

/**
 * The Slurm adapter's submission settings from the service's environment, checked (pure). The
 * service's config loader merges them into its SlurmConfig, which is handed whole to the adapter;
 * every problem names the variable and the rule, so that start-up refuses a bad value.
 *
 *   SLURM_QOS, SLURM_RESERVATION       Slurm names
 *   SLURM_CPUS_PER_GPU                 positive integer (--cpus-per-gpu)
 *   SLURM_MEM_PER_GPU                  64G, 200000M, ... (--mem-per-gpu)
 *   SLURM_WORK_DIR                     absolute path on storage the compute nodes share; each
 *                                      lease gets <dir>/<lease id> with its output files
 *   SLURM_GRES_TYPES                   MODEL=type[,MODEL=type...], e.g. H100-SXM-80GB=h100
 *   SLURM_EXTRA_ARGS                   space-separated --flag[=value] words from an allow-list
 *
 * (SLURM_PARTITION and SLURM_ACCOUNT are read by the config loader already.)
 */
export type SlurmSettings = Pick<
  SlurmSubmissionOptions,
  'qos' | 'reservation' | 'cpusPerGpu' | 'memPerGpu' | 'workDir' | 'gresTypes' | 'extraArgs'
>;

/** The variables readSlurmSettings reads, with the values each accepts (for serve --help and docs/operations.md). */
export const SLURM_SETTING_RULES: Readonly<Record<string, string>> = {
  SLURM_QOS: 'a Slurm QoS name',
  SLURM_RESERVATION: 'a Slurm reservation name',
  SLURM_CPUS_PER_GPU: 'positive whole number',
  SLURM_MEM_PER_GPU: 'memory with a unit, e.g. 64G or 200000M',
  SLURM_WORK_DIR: 'absolute path on storage the compute nodes share',
  SLURM_GRES_TYPES: 'MODEL=type[,MODEL=type...]',
  SLURM_EXTRA_ARGS: 'space-separated --flag[=value] words from the allow-list',
};

const VARIABLE_OF: Record<string, string> = {
  qos: 'SLURM_QOS',
  reservation: 'SLURM_RESERVATION',
  cpusPerGpu: 'SLURM_CPUS_PER_GPU',
  memPerGpu: 'SLURM_MEM_PER_GPU',
  gresTypes: 'SLURM_GRES_TYPES',
  extraArgs: 'SLURM_EXTRA_ARGS',
};

export function readSlurmSettings(env: Readonly<Record<string, string | undefined>>): {
  settings: SlurmSettings;
  problems: string[];
} {
  const problems: string[] = [];
  const value = (name: string) => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const settings: { -readonly [K in keyof SlurmSettings]: SlurmSettings[K] } = {};
  const qos = value('SLURM_QOS');
  if (qos) settings.qos = qos;
  const reservation = value('SLURM_RESERVATION');
  if (reservation) settings.reservation = reservation;
  const cpus = value('SLURM_CPUS_PER_GPU');
  if (cpus !== undefined) {
    if (/^[0-9]+$/.test(cpus)) settings.cpusPerGpu = Number(cpus);
    else problems.push(`SLURM_CPUS_PER_GPU=${cpus}: must be a positive integer`);
  }
  const memory = value('SLURM_MEM_PER_GPU');
  if (memory) settings.memPerGpu = memory;
  const workDir = value('SLURM_WORK_DIR');
  if (workDir !== undefined) {
    if (workDir.startsWith('/')) settings.workDir = workDir;
    else
      problems.push(
        `SLURM_WORK_DIR=${workDir}: must be an absolute path (the compute nodes resolve it, not the market)`,
      );
  }
  const gres = value('SLURM_GRES_TYPES');
  if (gres) {
    const types: Record<string, string> = {};
    for (const pair of gres.split(',')) {
      const [model, type, ...rest] = pair.split('=').map((part) => part.trim());
      if (!model || !type || rest.length > 0)
        problems.push(`SLURM_GRES_TYPES: ${JSON.stringify(pair)} is not MODEL=type`);
      else types[model] = type;
    }
    settings.gresTypes = types;
  }
  const extra = value('SLURM_EXTRA_ARGS');
  if (extra) settings.extraArgs = extra.split(/\s+/);
  // The same checks the adapter makes, under the variables' names.
  for (const problem of settingsProblems(settings)) {
    const key = problem.split(/[:.]/)[0]!;
    problems.push(`${VARIABLE_OF[key] ?? key}: ${problem.slice(problem.indexOf(':') + 1).trim()}`);
  }
  return { settings, problems };
}
