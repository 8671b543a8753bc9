import { chmodSync, mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  SERVICE_PORT_ENV,
  SERVICE_READINESS_ENV,
  type AgentAck,
  type AgentOrder,
  type NodeRegistration,
  type ReportedState,
} from '../modules/dispatch/adapters/nvidia-agent/agent-protocol.js';
import { defaultAdvertiseHost, freeLocalPort, probeReadiness } from '../platform/http/local-serving.js';
import { AgentStateStore, type LeaseRecord } from './agent-state-store.js';
import { chooseGpus } from './gpu-choice.js';
import { gpuAvailability, type GpuAvailability, type GpuReading } from './gpu-health.js';
import { MarketHttpError, type MarketClient } from './market-client.js';
import { ProcessRuntime } from './process-runtime.js';
import type { WorkloadRuntime } from './runtime.js';

/**
 * `gpumarket agent`: runs on a GPU node, registers it, pulls its orders, runs each workload through
 * its runtime (a container, or an isolated process tree) on the GPUs it chose, reports their
 * states, heartbeats with the GPUs' health, and keeps a local state file so that a restart of
 * either side never starts a second copy.
 */
export interface NodeAgentOptions {
  readonly client: MarketClient;
  readonly registration: NodeRegistration;
  /** Local GPU indices (nvidia-smi order). */
  readonly gpuIndices: readonly number[];
  /** Groups of NVLink-connected GPUs; a gang is kept inside one when it fits. */
  readonly nvlinkIslands: readonly (readonly number[])[];
  readonly stateDir: string;
  /** UUIDs of the GPUs by index, as discovered (health checks and container device names use them). */
  readonly gpus?: readonly { readonly index: number; readonly uuid: string }[];
  /** Runs the workloads; default: the process runtime as the agent's own user. */
  readonly runtime?: WorkloadRuntime;
  /** Seconds between heartbeats (POST /v1/agent/heartbeat); 0 turns them off. Default 15. */
  readonly heartbeatSeconds?: number;
  /** Seconds between nvidia-smi health readings; default 60. */
  readonly gpuScanSeconds?: number;
  /** A fresh nvidia-smi reading; without it GPUs are never marked unavailable. */
  readonly readGpus?: () => Promise<GpuReading[]>;
  readonly pollWaitSeconds?: number;
  readonly monitorIntervalMs?: number;
  /** Ended and reported leases are forgotten after this long (repeated orders stay no-ops until then). */
  readonly retentionMs?: number;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
  /** The host other machines reach this node's service replicas at; default: its first external address. */
  readonly advertiseHost?: string;
}

const ACTIVE_MARKET_STATES = new Set(['running']);

export class NodeAgent {
  private readonly runtime: WorkloadRuntime;
  private readonly store: AgentStateStore;
  /** Unavailable GPUs by index, with the reason, from the last nvidia-smi reading. */
  private health: GpuAvailability[] = [];
  private heartbeatLoop?: Promise<void>;
  private scanLoop?: Promise<void>;
  /** False once the market answered that it has no heartbeat route (an older market). */
  private heartbeatsSupported = true;
  private readonly wake = { heartbeat: () => undefined as void };
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
  private readonly advertiseHost: string;

  constructor(private readonly options: NodeAgentOptions) {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    // The state file, logs and exit files are the agent's alone; tenants must not read them.
    chmodSync(options.stateDir, 0o700);
    this.runtime =
      options.runtime ??
      new ProcessRuntime({
        node: options.registration.externalId,
        workloadsDir: `${options.stateDir}/workloads`,
        scratchRoot: `${options.stateDir}/scratch`,
        path: process.env.PATH ?? '/usr/bin:/bin',
      });
    this.health = (options.gpus ?? []).map((gpu) => ({ ...gpu, available: true }));
    this.store = new AgentStateStore(`${options.stateDir}/state.json`);
    this.log = options.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} agent: ${line}\n`));
    this.now = options.now ?? Date.now;
    this.advertiseHost = options.advertiseHost ?? defaultAdvertiseHost();
  }

  get node(): string {
    return this.options.registration.externalId;
  }

  /** Adopts the workloads of the state file, then polls and monitors until stop(). */
  start(): void {
    this.leases = this.store.load();
    const foreign = [...this.leases.values()].filter(
      (lease) => !lease.ended && (lease.runtime ?? 'process') !== this.runtime.kind,
    );
    if (foreign.length > 0) {
      // This runtime could neither see nor stop them; their GPUs would be handed out twice.
      throw new Error(
        `the state file holds ${foreign.length} running lease(s) of the ${foreign[0]!.runtime ?? 'process'} runtime; ` +
          `start the agent with --runtime ${foreign[0]!.runtime ?? 'process'} until they end`,
      );
    }
    if (this.leases.size > 0) this.log(`re-adopted ${this.leases.size} lease(s) from the state file`);
    this.monitor = setInterval(() => void this.tick(), this.options.monitorIntervalMs ?? 500);
    this.pollLoop = this.poll();
    if ((this.options.heartbeatSeconds ?? 15) > 0) this.heartbeatLoop = this.heartbeats();
    if (this.options.readGpus && this.options.gpus) this.scanLoop = this.scans();
  }

  /** Stops talking to the market; running workloads keep running (they belong to the tenants). */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.monitor) clearInterval(this.monitor);
    await Promise.all([this.pollLoop, this.heartbeatLoop, this.scanLoop]);
    while (this.monitoring) await sleep(10);
  }

  /** The GPUs' availability as last read (and reported with each heartbeat). */
  gpuHealth(): GpuAvailability[] {
    return this.health.map((gpu) => ({ ...gpu }));
  }

  private async heartbeats(): Promise<void> {
    let seconds = this.options.heartbeatSeconds ?? 15;
    const aborted = new Promise<void>((resolve) =>
      this.abort.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    // The first heartbeat follows the registration (the market would not know the node before).
    await Promise.race([this.ready, aborted]);
    while (!this.abort.signal.aborted && this.heartbeatsSupported) {
      const asked = await this.heartbeat();
      // The market may ask for more frequent beats (its fencing delay is shorter); never fewer.
      if (asked !== undefined && asked > 0 && asked < seconds) seconds = asked;
      // The next one after the interval, or at once when the GPUs' availability changed.
      await Promise.race([
        aborted,
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, seconds * 1000);
          this.wake.heartbeat = () => {
            clearTimeout(timer);
            resolve();
          };
        }),
      ]);
    }
  }

  /** Sends one heartbeat; the interval the market asks for, when it answered. */
  private async heartbeat(): Promise<number | undefined> {
    const gpus = this.health.map(({ index, uuid, available, reason }) => ({
      index,
      uuid,
      available,
      ...(reason ? { reason } : {}),
    }));
    try {
      const answer = await this.options.client.heartbeat(
        this.node,
        gpus.length > 0 ? gpus : undefined,
        this.abort.signal,
      );
      return typeof answer.heartbeatIntervalSeconds === 'number' ? answer.heartbeatIntervalSeconds : undefined;
    } catch (error) {
      if (this.abort.signal.aborted) return undefined;
      if (error instanceof MarketHttpError && error.status === 404) {
        if (error.routeMissing) {
          // An older market: polling for orders keeps the node alive there.
          this.heartbeatsSupported = false;
          this.log('the market has no heartbeat endpoint; relying on order polling only');
          return undefined;
        }
        // The market does not know the node (its database was reset): register again.
        this.needsResync = true;
      }
      this.log(`heartbeat failed (${(error as Error).message})`);
      return undefined;
    }
  }

  private async scans(): Promise<void> {
    const seconds = this.options.gpuScanSeconds ?? 60;
    while (!this.abort.signal.aborted) {
      await sleep(seconds * 1000, undefined, { signal: this.abort.signal }).catch(() => undefined);
      if (this.abort.signal.aborted) break;
      await this.scanGpus();
    }
  }

  /** Re-reads nvidia-smi; a change of availability is logged and heartbeated at once. */
  async scanGpus(): Promise<void> {
    let readings: GpuReading[];
    try {
      readings = await this.options.readGpus!();
    } catch (error) {
      // nvidia-smi itself failing (driver gone) is not proof that every GPU vanished; say so and keep the last reading.
      this.log(`nvidia-smi health reading failed (${(error as Error).message}); keeping the last one`);
      return;
    }
    const next = gpuAvailability(this.options.gpus ?? [], readings);
    const describe = (list: GpuAvailability[]) =>
      list
        .filter((gpu) => !gpu.available)
        .map((gpu) => `${gpu.index}:${gpu.reason}`)
        .join(' ');
    if (describe(next) !== describe(this.health)) {
      this.log(`GPU availability changed: unavailable now [${describe(next)}], before [${describe(this.health)}]`);
      this.health = next;
      this.wake.heartbeat();
    } else {
      this.health = next;
    }
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
        const orders = await this.options.client.pullOrders(
          this.node,
          this.options.pollWaitSeconds ?? 25,
          this.abort.signal,
        );
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
    for (const lease of this.leases.values()) {
      lease.reported = undefined;
      lease.reportedReady = undefined;
    }
    this.needsResync = false;
    this.markReady();
    this.log(`registered and re-synced: market lists ${believed.length} lease(s), agent runs ${this.leases.size}`);
  }

  private async handle(order: AgentOrder): Promise<void> {
    const ack = order.type === 'place' ? await this.place(order) : await this.stopLease(order);
    this.store.save(this.leases);
    await this.options.client.acknowledge(order.id, ack);
  }

  private async place(order: AgentOrder): Promise<AgentAck> {
    const existing = this.leases.get(order.leaseId);
    if (existing) return { ok: true, handle: existing.handle, gpuIndices: existing.gpuIndices };
    const place = order.place;
    const mine = place?.nodes.find((node) => node.externalId === this.node);
    if (!place || !mine) return refuse('permanent', `place order ${order.id} grants nothing on node ${this.node}`);
    const env: Record<string, string> = {
      ...place.workload.env,
      GPUMARKET_LEASE_ID: order.leaseId,
      GPUMARKET_NODE: this.node,
    };
    // A service's replica gets a port of this node (see SERVICE_PORT_ENV): a process listens on
    // it directly, a container keeps its declared port inside and is published on it.
    const declared = Number(env[SERVICE_PORT_ENV]);
    const served = env[SERVICE_PORT_ENV] !== undefined && Number.isInteger(declared) && declared > 0;
    const hostPort = served ? await freeLocalPort() : undefined;
    if (hostPort !== undefined) env.PORT = String(this.runtime.kind === 'process' ? hostPort : declared);
    const probe = {
      leaseId: order.leaseId,
      node: this.node,
      image: place.workload.image,
      command: place.workload.command,
      env,
      gpus: [],
      ...(hostPort !== undefined && this.runtime.kind !== 'process'
        ? { publish: { host: hostPort, container: declared } }
        : {}),
    };
    const refusal = this.runtime.refusal(probe);
    if (refusal) return refuse('permanent', refusal);
    const busy = new Set(
      [...this.leases.values()].filter((lease) => !lease.ended).flatMap((lease) => lease.gpuIndices),
    );
    // A GPU reported unavailable (vanished, ECC, MIG...) is never handed out.
    for (const gpu of this.health) if (!gpu.available) busy.add(gpu.index);
    const choice = chooseGpus(this.options.gpuIndices, this.options.nvlinkIslands, busy, mine.gpus);
    if (choice.kind !== 'ok') return refuse(choice.kind, choice.message);
    const uuids = new Map((this.options.gpus ?? []).map((gpu) => [gpu.index, gpu.uuid]));
    try {
      const started = await this.runtime.start({
        ...probe,
        gpus: choice.gpus.map((index) => ({ index, uuid: uuids.get(index) })),
      });
      const record: LeaseRecord = {
        leaseId: order.leaseId,
        handle: `${this.node}/${order.leaseId}`,
        pid: started.pid,
        gpuIndices: choice.gpus,
        exitFile: started.exitFile,
        logFile: started.logFile,
        startedAt: this.now(),
        runtime: this.runtime.kind,
        ...(started.pidStart ? { pidStart: started.pidStart } : {}),
        ...(started.container ? { container: started.container } : {}),
        ...(started.scratch ? { scratch: started.scratch } : {}),
        ...(started.cgroupProcs ? { cgroupProcs: started.cgroupProcs } : {}),
        ...(hostPort !== undefined
          ? { serving: { port: hostPort, readinessPath: env[SERVICE_READINESS_ENV] ?? '/' } }
          : {}),
      };
      this.leases.set(order.leaseId, record);
      this.log(
        `lease ${order.leaseId}: started ${started.container ?? `pid ${started.pid}`} on GPUs ${choice.gpus.join(',')}`,
      );
      return { ok: true, handle: record.handle, gpuIndices: record.gpuIndices };
    } catch (error) {
      return refuse('permanent', `could not start the workload: ${(error as Error).message}`);
    }
  }

  private async stopLease(order: AgentOrder): Promise<AgentAck> {
    const lease = this.leases.get(order.leaseId);
    if (!lease || lease.ended || lease.stop) return { ok: true, handle: lease?.handle };
    const now = this.now();
    const grace = Math.max(0, order.graceSeconds ?? 0);
    lease.stop = {
      reason: order.type === 'preempt' ? 'preempt' : 'terminate',
      termAt: now,
      killAt: now + grace * 1000,
      killSent: grace === 0,
    };
    this.log(`lease ${order.leaseId}: ${order.type}, ${grace > 0 ? `SIGTERM, SIGKILL in ${grace} s` : 'SIGKILL'}`);
    // A container stop waits out the grace; the order is acknowledged without waiting for it.
    this.runtime
      .stop(lease, grace)
      .catch((error: unknown) => this.log(`lease ${order.leaseId}: stop failed (${(error as Error).message})`));
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
        if (lease.ended) continue;
        if (lease.stop && !lease.stop.killSent && now >= lease.stop.killAt) {
          await this.runtime.kill(lease);
          lease.stop.killSent = true;
          changed = true;
          this.log(`lease ${lease.leaseId}: notice over, SIGKILL`);
        }
        if (!lease.exited) {
          const check = await this.runtime.check(lease);
          if (check.ended) {
            lease.exited = { exitCode: check.exitCode, signal: check.signal };
            changed = true;
          }
        }
        if (!lease.exited && !lease.stop && lease.serving && lease.serving.readyAt === undefined) {
          changed = (await this.probeServing(lease.serving, now)) || changed;
        }
        // Its GPUs are free only once nothing of the lease is left (escaped children included).
        if (lease.exited && (await this.runtime.release(lease))) {
          lease.ended = endedState(lease, lease.exited.exitCode, lease.exited.signal, now);
          changed = true;
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

  /** One readiness probe of a replica that is not ready yet; true when it moved on. */
  private async probeServing(serving: NonNullable<LeaseRecord['serving']>, now: number): Promise<boolean> {
    const answer = await probeReadiness(serving.port, serving.readinessPath, 500);
    if (answer === 'down') return false;
    const first = serving.listeningAt === undefined;
    serving.listeningAt ??= now;
    if (answer === 'ready') serving.readyAt = now;
    return first || answer === 'ready';
  }

  private async report(): Promise<void> {
    for (const lease of this.leases.values()) {
      const state: ReportedState = lease.ended?.state ?? 'running';
      // A ready replica is reported once more, with its endpoint; a replica told to stop takes no requests.
      const ready = state === 'running' && !lease.stop && lease.serving?.readyAt !== undefined;
      if (lease.reported === state && (!ready || lease.reportedReady)) continue;
      try {
        await this.options.client.reportStatus(lease.leaseId, {
          state,
          node: this.node,
          ...(lease.ended?.exitCode !== undefined ? { exitCode: lease.ended.exitCode } : {}),
          ...(lease.ended?.message ? { message: lease.ended.message } : {}),
          ...(ready
            ? {
                endpoint: `${this.advertiseHost}:${lease.serving!.port}`,
                serving: {
                  spawnedAt: lease.startedAt,
                  listeningAt: lease.serving!.listeningAt,
                  readyAt: lease.serving!.readyAt,
                },
              }
            : {}),
        });
        lease.reported = state;
        if (ready) lease.reportedReady = true;
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

function endedState(
  lease: LeaseRecord,
  exitCode: number | undefined,
  signal: string | undefined,
  at: number,
): LeaseRecord['ended'] {
  const how = signal
    ? `ended by ${signal === 'unknown' ? 'a signal (agent was not running)' : signal}`
    : `exited ${exitCode}`;
  if (lease.stop) return { state: 'stopped', exitCode, message: `${lease.stop.reason}: ${how}`, at };
  if (exitCode === 0) return { state: 'completed', exitCode: 0, at };
  return { state: 'failed', exitCode, message: how, at };
}
