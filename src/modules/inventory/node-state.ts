/** A node's administrative state, as the nodes table stores it (SQL in nodes.repository.ts). */
export type NodeState = 'active' | 'draining' | 'down';
export const NODE_STATES: readonly NodeState[] = ['active', 'draining', 'down'];
