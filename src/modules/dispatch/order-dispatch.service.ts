import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { PermanentJobError } from '../../platform/queue/job-queue.js';
import { LIVE_LEASE_STATES } from '../../core/market/lease-lifecycle.js';
import { LeaseStateService } from '../leases/lease-state.service.js';
import { OrdersRepository, type OrderRow } from '../orders/orders.repository.js';
import { OutboxRelayService } from '../../platform/outbox/outbox-relay.service.js';
import { AdapterRegistry } from './adapter-registry.service.js';
import { DispatchRepository } from './dispatch.repository.js';
import { AdapterError, type AdapterKind, type PlaceOrder } from './adapters/provider-adapter.js';

interface DispatchContext {
  order: OrderRow;
  adapterKind: AdapterKind;
  leaseState: string;
  placeOrder: PlaceOrder;
  handle: string | null;
}

/**
 * Carries one order to its provider's adapter. The adapter is called outside any transaction
 * (it may take seconds); what it answered is written afterwards. Orders are idempotent by lease
 * id at the adapter, so a job that runs twice starts nothing twice.
 */
@Injectable()
export class OrderDispatchService {
  private readonly logger = new Logger('Dispatch');

  constructor(
    private readonly transactions: TransactionRunner,
    private readonly orders: OrdersRepository,
    private readonly repository: DispatchRepository,
    private readonly leaseState: LeaseStateService,
    private readonly adapters: AdapterRegistry,
    private readonly relay: OutboxRelayService,
  ) {}

  async dispatch(orderId: string): Promise<void> {
    const context = await this.transactions.run((m) => this.load(m, orderId));
    if (!context) return;
    const { order } = context;
    if (order.type === 'place' && context.leaseState !== 'allocated') {
      await this.transactions.run((m) => this.orders.update(m, orderId, { state: 'withdrawn' }));
      return;
    }
    if (order.type !== 'place' && context.handle === null) return; // nothing was placed: load() settled the stop
    const adapter = await this.adapters.forProvider(order.provider_id, context.adapterKind);
    try {
      if (order.type === 'place') {
        const { handle } = await adapter.place(context.placeOrder);
        const stopQueued = await this.transactions.run((m) => this.placed(m, order, handle));
        if (stopQueued) await this.relay.relay();
        return;
      }
      const stop = { leaseId: order.lease_id, handle: context.handle!, graceSeconds: order.grace_seconds ?? 0 };
      if (order.type === 'preempt') await adapter.preempt(stop);
      else await adapter.terminate(stop);
      await this.transactions.run((m) =>
        this.orders.update(m, orderId, { state: 'done', lastError: null, attempts: order.attempts + 1 }),
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.transactions.run((m) =>
        this.orders.update(m, orderId, { lastError: message, attempts: order.attempts + 1 }),
      );
      if (error instanceof AdapterError && error.kind === 'permanent') throw new PermanentJobError(message, error);
      throw error;
    }
  }

  /**
   * The order failed for good (its last try, or a permanent error). A `place` that never
   * happened fails the lease, frees its GPUs and reopens the bid (the platform's failure, capped
   * per bid). A failed `preempt` leaves the notice's end to its `terminate`; a failed `terminate`
   * leaves a workload that may still run, whose GPUs stay held until its adapter confirms it is
   * gone (LeaseStateService.stopFailed). Either way the tenant hears of it and the log says so.
   */
  async deadLetter(orderId: string, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    const now = new Date();
    const outcome = await this.transactions.run(async (manager) => {
      const order = await this.orders.lock(manager, orderId);
      if (!order || order.state === 'done' || order.state === 'withdrawn' || order.state === 'failed') return null;
      await this.orders.update(manager, orderId, { state: 'failed', lastError: message });
      if (order.type === 'place') {
        await this.leaseState.fail(manager, order.lease_id, now, `order_failed: ${message}`, true);
        return { order, held: false };
      }
      return {
        order,
        held: (await this.leaseState.stopFailed(manager, order.lease_id, order.type, message, now)) === 'held',
      };
    });
    if (!outcome) return;
    const { order, held } = outcome;
    if (order.type === 'place')
      this.logger.warn(`order ${orderId} (place lease ${order.lease_id}) dead-lettered: ${message}`);
    else
      this.logger.error(
        `order ${orderId} (${order.type} lease ${order.lease_id}) dead-lettered: ${message}` +
          (held ? '; its workload may still run: its GPUs stay held until the provider confirms it stopped' : ''),
      );
    // The failed lease's event (and its webhooks) leave now, not at the next outbox sweep.
    await this.relay.relay();
  }

  /**
   * Records a place the adapter carried out. If a stop withdrew the place meanwhile (the tenant
   * cancelled while the workload was starting), the workload runs with no stop to come: when its
   * lease has ended, a terminate is ordered now; a lease still live keeps it (a lease in its
   * notice gets its terminate when the notice ends). Returns whether a stop was ordered.
   */
  private async placed(manager: EntityManager, order: OrderRow, handle: string): Promise<boolean> {
    const current = await this.orders.lock(manager, order.id);
    await this.orders.update(manager, order.id, {
      state: 'done',
      handle,
      lastError: null,
      attempts: order.attempts + 1,
    });
    if (current?.state !== 'withdrawn') return false;
    const leaseState = await this.repository.leaseState(manager, order.lease_id);
    if (leaseState === null || LIVE_LEASE_STATES.includes(leaseState as (typeof LIVE_LEASE_STATES)[number]))
      return false;
    this.logger.warn(
      `order ${order.id}: lease ${order.lease_id} ended while it was placed; its workload is terminated`,
    );
    await this.leaseState.stopOrders(
      manager,
      [{ id: order.lease_id, provider_ids: [order.provider_id] }],
      'terminate',
      0,
    );
    return true;
  }

  private async load(manager: EntityManager, orderId: string): Promise<DispatchContext | null> {
    const order = await this.orders.lock(manager, orderId);
    if (!order || order.state === 'done' || order.state === 'withdrawn' || order.state === 'failed') return null;
    const row = await this.repository.placement(manager, orderId);
    const nodes = await this.repository.leaseNodes(manager, order.lease_id, order.provider_id);
    const handles = await this.orders.placeHandles(manager, order.lease_id, order.type !== 'place');
    if (order.type !== 'place' && !handles.has(order.provider_id)) {
      // Never placed on this provider: nothing runs there, so there is nothing to stop. A place
      // still in flight is withdrawn under the same row lock its completion takes (placed()), so
      // either it finished first and left its handle, or it sees the withdrawal and stops what
      // it started.
      await this.orders.withdrawPlaces(manager, order.lease_id, order.provider_id);
      await this.orders.update(manager, order.id, { state: 'done', attempts: order.attempts + 1 });
    }
    return {
      order,
      adapterKind: row.adapter,
      leaseState: row.lease_state,
      handle: handles.get(order.provider_id) ?? null,
      placeOrder: {
        leaseId: order.lease_id,
        bidId: row.bid_id,
        tenantId: row.tenant_id,
        gpuModel: row.gpu_model,
        nodes: nodes.map((n) => ({ nodeId: n.node_id, externalId: n.external_id, gpus: n.gpus })),
        workload: row.workload,
        runtimeSeconds: row.runtime_seconds,
      },
    };
  }
}
