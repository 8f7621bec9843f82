import type { Strategy } from './selector.js';

/** Picks a node uniformly at random: go-micro's default strategy. */
export const random: Strategy = {
  name: 'random',
  pick: (_service, nodes) => nodes[Math.floor(Math.random() * nodes.length)]!,
};
