import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentAck, AgentOrder, NodeRegistration, ReportedState } from '../modules/dispatch/adapters/nvidia-agent/agent-protocol.js';
import { AgentStateStore, type LeaseRecord } from './agent-state-store.js';
import { chooseGpus } from './gpu-choice.js';
import type { MarketClient } from './market-client.js';
import { WorkloadRunner } from './workload-runner.js';

/**
 * `gpumarket agent`: runs on a GPU node, registers it, pulls its orders, runs each workload as a
 * detached child with CUDA_VISIBLE_DEVICES set to the GPUs it chose, reports their states, and
 * keeps a local state file so that a restart of either side never starts a second copy.
 */
export interface NodeAgentOptions {
  readonly client: MarketClient;
  readonly registration: NodeRegistration;
  /** Local GPU indices (nvidia-smi order). */
  readonly gpuIndices: readonly number[];
  /** Groups of NVLink-connected GPUs; a gang is kept inside one when it fits. */
  readonly nvlinkIslands: readonly (readonly number[])[];
  readonly stateDir: string;
  readonly pollWaitSeconds?: number;
  readonly monitorIntervalMs?: number;
  /** Ended and reported leases are forgotten after this long (repeated orders stay no-ops until then). */
  readonly retentionMs?: number;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

const ACTIVE_MARKET_STATES = new Set(['running']);

export class NodeAgent {
  private readonly runner: WorkloadRunner;
  private readonly store: AgentStateStore;
  private leases = new Map<string, LeaseRecord>();
  private readonly abort = new AbortController();
  private pollLoop?: Promise<void>;
  private monitor?: NodeJS.Timeout;
  private monitoring = false;
  private needsResync = true;
  private markReady!: () => void;
  /** Resolves once the node is registered and re-synced with the market for the first time. */
  readonly ready = new Promise<void>((resolve) => {
    this.markReady = resolve;
  });
  private readonly log: (line: string) => void;
  private readonly now: () => number;

  constructor(private readonly options: NodeAgentOptions) {
    this.runner = new WorkloadRunner(`${options.stateDir}/workloads`);
    this.store = new AgentStateStore(`${options.stateDir}/state.json`);
    this.log = options.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} agent: ${line}\n`));
    this.now = options.now ?? Date.now;
  }

  get node(): string {
    return this.options.registration.externalId;
  }

  /** Adopts the workloads of the state file, then polls and monitors until stop(). */
  start(): void {
    this.leases = this.store.load();
    if (this.leases.size > 0) this.log(`re-adopted ${this.leases.size} lease(s) from the state file`);
    this.monitor = setInterval(() => void this.tick(), this.options.monitorIntervalMs ?? 500);
    this.pollLoop = this.poll();
  }

  /** Stops talking to the market; running workloads keep running (they belong to the tenants). */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.monitor) clearInterval(this.monitor);
    await this.pollLoop;
    while (this.monitoring) await sleep(10);
  }

  /** The agent's view of its leases, for operators and tests. */
  snapshot(): LeaseRecord[] {
    return [...this.leases.values()].map((lease) => ({ ...lease }));
  }

  private async poll(): Promise<void> {
    let backoffMs = 250;
    while (!this.abort.signal.aborted) {
      try {
        if (this.needsResync) await this.resync();
        const orders = await this.options.client.pullOrders(this.node, this.options.pollWaitSeconds ?? 25, this.abort.signal);
        for (const order of orders) await this.handle(order);
        backoffMs = 250;
      } catch (error) {
        if (this.abort.signal.aborted) break;
        // The market may have restarted: register and reconcile again once it answers.
        this.needsResync = true;
        this.log(`market unreachable or refused (${(error as Error).message}); retrying in ${backoffMs} ms`);
        await sleep(backoffMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
        backoffMs = Math.min(backoffMs * 2, 10_000);
      }
    }
  }

  private async resync(): Promise<void> {
    await this.options.client.registerNodes([this.options.registration]);
    const believed = await this.options.client.leasesOnNode(this.node);
    for (const lease of believed) {
      if (ACTIVE_MARKET_STATES.has(lease.state) && !this.leases.has(lease.leaseId)) {
        // Never start it here: the market re-places a lease it wants, through a place order.
        await this.options.client.reportStatus(lease.leaseId, {
          state: 'failed',
          node: this.node,
          message: `agent on ${this.node} has no record of this lease (state file lost or lease never started)`,
        });
      }
    }
    // Whatever the market lost while it was away, it hears again.
    for (const lease of this.leases.values()) lease.reported = undefined;
    this.needsResync = false;
    this.markReady();
    this.log(`registered and re-synced: market lists ${believed.length} lease(s), agent runs ${this.leases.size}`);
  }

  private async handle(order: AgentOrder): Promise<void> {
    const ack = order.type === 'place' ? this.place(order) : this.stopLease(order);
    this.store.save(this.leases);
    await this.options.client.acknowledge(order.id, ack);
  }

  private place(order: AgentOrder): AgentAck {
    const existing = this.leases.get(order.leaseId);
    if (existing) return { ok: true, handle: existing.handle, gpuIndices: existing.gpuIndices };
    const place = order.place;
    const mine = place?.nodes.find((node) => node.externalId === this.node);
    if (!place || !mine) return refuse('permanent', `place order ${order.id} grants nothing on node ${this.node}`);
    if (place.workload.image) return refuse('permanent', 'the nvidia-agent runs commands, not container images');
    if (!place.workload.command?.length) return refuse('permanent', 'workload.command is empty');
    const busy = new Set([...this.leases.values()].filter((lease) => !lease.ended).flatMap((lease) => lease.gpuIndices));
    const choice = chooseGpus(this.options.gpuIndices, this.options.nvlinkIslands, busy, mine.gpus);
    if (choice.kind !== 'ok') return refuse(choice.kind, choice.message);

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: process.env.HOME ?? '/',
      LANG: process.env.LANG ?? 'C.UTF-8',
      ...place.workload.env,
      // Indices are nvidia-smi's (PCI bus order); CUDA's default order may differ without this.
      CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
      CUDA_VISIBLE_DEVICES: choice.gpus.join(','),
      GPUMARKET_LEASE_ID: order.leaseId,
      GPUMARKET_NODE: this.node,
    };
    try {
      const started = this.runner.start(order.leaseId, place.workload.command, env);
      const record: LeaseRecord = {
        leaseId: order.leaseId,
        handle: `${this.node}/${order.leaseId}`,
        pid: started.pid,
        gpuIndices: choice.gpus,
        exitFile: started.exitFile,
        logFile: started.logFile,
        startedAt: this.now(),
      };
      this.leases.set(order.leaseId, record);
      this.log(`lease ${order.leaseId}: started pid ${started.pid} on GPUs ${choice.gpus.join(',')}`);
      return { ok: true, handle: record.handle, gpuIndices: record.gpuIndices };
    } catch (error) {
      return refuse('permanent', `could not start the workload: ${(error as Error).message}`);
    }
  }

  private stopLease(order: AgentOrder): AgentAck {
    const lease = this.leases.get(order.leaseId);
    if (!lease || lease.ended || lease.stop) return { ok: true, handle: lease?.handle };
    const now = this.now();
    const grace = Math.max(0, order.graceSeconds ?? 0);
    lease.stop = { reason: order.type === 'preempt' ? 'preempt' : 'terminate', termAt: now, killAt: now + grace * 1000, killSent: false };
    this.runner.signal(lease.pid, grace > 0 ? 'SIGTERM' : 'SIGKILL');
    lease.stop.killSent = grace === 0;
    this.log(`lease ${order.leaseId}: ${order.type}, ${grace > 0 ? `SIGTERM, SIGKILL in ${grace} s` : 'SIGKILL'}`);
    return { ok: true, handle: lease.handle, gpuIndices: lease.gpuIndices };
  }

  /** Notices ended workloads, sends due SIGKILLs, reports state changes, forgets old leases. */
  private async tick(): Promise<void> {
    if (this.monitoring) return;
    this.monitoring = true;
    try {
      let changed = false;
      const now = this.now();
      for (const lease of this.leases.values()) {
        if (!lease.ended && lease.stop && !lease.stop.killSent && now >= lease.stop.killAt) {
          this.runner.signal(lease.pid, 'SIGKILL');
          lease.stop.killSent = true;
          changed = true;
          this.log(`lease ${lease.leaseId}: notice over, SIGKILL`);
        }
        if (!lease.ended) {
          const check = this.runner.check(lease);
          if (check.ended) {
            lease.ended = endedState(lease, check.exitCode, check.signal, now);
            changed = true;
          }
        }
      }
      if (changed) this.store.save(this.leases);
      if (!this.needsResync) await this.report();
      this.forgetOld(now);
    } catch (error) {
      this.log(`monitor: ${(error as Error).message}`);
    } finally {
      this.monitoring = false;
    }
  }

  private async report(): Promise<void> {
    for (const lease of this.leases.values()) {
      const state: ReportedState = lease.ended?.state ?? 'running';
      if (lease.reported === state) continue;
      try {
        await this.options.client.reportStatus(lease.leaseId, {
          state,
          node: this.node,
          ...(lease.ended?.exitCode !== undefined ? { exitCode: lease.ended.exitCode } : {}),
          ...(lease.ended?.message ? { message: lease.ended.message } : {}),
        });
        lease.reported = state;
        this.store.save(this.leases);
      } catch (error) {
        this.needsResync = true;
        this.log(`could not report lease ${lease.leaseId} (${(error as Error).message}); will retry`);
        return;
      }
    }
  }

  private forgetOld(now: number): void {
    const retention = this.options.retentionMs ?? 3_600_000;
    let changed = false;
    for (const [leaseId, lease] of this.leases) {
      if (lease.ended && lease.reported === lease.ended.state && now - lease.ended.at > retention) {
        this.leases.delete(leaseId);
        changed = true;
      }
    }
    if (changed) this.store.save(this.leases);
  }
}

function refuse(kind: 'retryable' | 'permanent', message: string): AgentAck {
  return { ok: false, error: { kind, message } };
}

function endedState(lease: LeaseRecord, exitCode: number | undefined, signal: string | undefined, at: number): LeaseRecord['ended'] {
  const how = signal ? `ended by ${signal === 'unknown' ? 'a signal (agent was not running)' : signal}` : `exited ${exitCode}`;
  if (lease.stop) return { state: 'stopped', exitCode, message: `${lease.stop.reason}: ${how}`, at };
  if (exitCode === 0) return { state: 'completed', exitCode: 0, at };
  return { state: 'failed', exitCode, message: how, at };
}
