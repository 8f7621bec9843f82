export {
  createRoundRobinSelector,
  RoundRobinSelector,
  type RoundRobinSelectorOptions,
} from './round-robin-selector.js';
export {
  createRoundRobinStrategy,
  RoundRobinStrategy,
  roundRobin,
} from './round-robin-strategy.js';
