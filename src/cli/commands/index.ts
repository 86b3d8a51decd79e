/** The CLI's commands: one file each, registered here in the order `--help` lists them. */
import type { Command } from 'commander';
import * as models from './models.ts';
import * as predict from './predict.ts';
import * as evaluate from './eval.ts';
import * as train from './train.ts';
import * as finetune from './finetune.ts';
import * as data from './data.ts';
import * as optimize from './optimize.ts';
import * as doctor from './doctor.ts';
import * as tokens from './tokens.ts';
import * as keys from './keys.ts';
import * as audit from './audit.ts';
import * as serve from './serve.ts';
import * as start from './start.ts';
import * as simulate from './simulate.ts';
import * as lineCmd from './line.ts';

export const commands: ReadonlyArray<{ register(program: Command): void }> = [models, predict, evaluate, train, finetune, data, optimize, doctor, tokens, keys, audit, serve, start, simulate, lineCmd];
