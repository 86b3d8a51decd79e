/** Learning-rate schedules: the learning rate for each epoch (0-based) of a run. */

export const SCHEDULES = ['constant', 'step', 'cosine', 'exponential'] as const;
/** One of SCHEDULES. */
export type ScheduleName = (typeof SCHEDULES)[number];

/** Returns the learning rate of `epoch` given the base rate and the run length. */
export type Schedule = (epoch: number) => number;

/**
 * - constant: α;
 * - step: α halved every quarter of the run;
 * - cosine: α · ½ (1 + cos(π e / E)), floored at 1% of α;
 * - exponential: α · 0.97^e.
 */
export function createSchedule(name: ScheduleName, lr: number, epochs: number): Schedule {
  switch (name) {
    case 'constant':
      return () => lr;
    case 'step': {
      const every = Math.max(1, Math.floor(epochs / 4));
      return (e) => lr * 0.5 ** Math.floor(e / every);
    }
    case 'cosine':
      return (e) => Math.max(lr * 0.01, lr * 0.5 * (1 + Math.cos((Math.PI * e) / Math.max(1, epochs))));
    case 'exponential':
      return (e) => lr * 0.97 ** e;
  }
}
