// The rounds of a benchmark: every contender measured in every group (a scenario, a
// broker) once per round, in an order rotated from one measurement to the next so
// that noise from elsewhere on the machine falls on all of them alike.

/**
 * Runs the rounds, printing a line per measurement; a failed measurement is kept and
 * the rounds go on.
 * @param options.groups what each contender is measured in, each with a `name`
 * @param options.shift (round, index of the group) => how far the contenders' order is rotated
 * @param options.measure (group, contender, round) => a promise of one measurement's result
 * @param options.describe result => the rest of its line
 * @returns the measurements and the failures, by group name and contender
 */
export async function measureRounds({ rounds, groups, contenders, shift, measure, describe }) {
  const samples = new Map();
  const errors = new Map();
  const key = (group, contender) => `${group}\u0000${contender}`;
  const add = (map, k, value) => {
    if (!map.has(k)) map.set(k, []);
    map.get(k).push(value);
  };
  const total = rounds * groups.length * contenders.length;
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [g, group] of groups.entries()) {
      const by = shift(round, g) % contenders.length;
      const order = [...contenders.slice(by), ...contenders.slice(0, by)];
      for (const contender of order) {
        done++;
        const k = key(group.name, contender);
        const prefix = `[${done}/${total}] round ${round + 1} ${group.name.padEnd(8)} ${contender.padEnd(13)}`;
        try {
          const result = await measure(group, contender, round);
          add(samples, k, result);
          console.log(`${prefix} ${describe(result)}`);
        } catch (error) {
          add(errors, k, error.message);
          console.log(`${prefix} FAILED: ${error.message.split('\n')[0]}`);
        }
      }
    }
  }
  return {
    /** The results of the measurements that worked. */
    samples: (group, contender) => samples.get(key(group, contender)) ?? [],
    /** The error messages of the ones that failed. */
    errors: (group, contender) => errors.get(key(group, contender)) ?? [],
    /** `{ group, contender, messages }` of each pair with a failure, in order of the first. */
    failures: () =>
      [...errors].map(([k, messages]) => {
        const [group, contender] = k.split('\u0000');
        return { group, contender, messages };
      }),
  };
}
