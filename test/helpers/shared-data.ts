/**
 * Where the shared real data sets are: ../shared/datasets beside the checkout (also in CI, which
 * clones elsewhere and puts a copy of shared/ beside the clone). Never an absolute path.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const DATASETS = path.resolve(repoRoot, '..', 'shared', 'datasets');
export const NEU_IMAGES = path.join(DATASETS, 'neu-surface-defect', 'images');
export const AI4I_CSV = path.join(DATASETS, 'ai4i2020', 'ai4i2020.csv');
