/** `linesight models keygen|sign|verify`: ed25519 signatures over a model version's ONNX and config.yaml. */
import type { Command } from 'commander';
import { action, DEFAULT_REPO } from '../context.ts';
import { ModelRepository, parseModelRef } from '../../repository/repository.ts';
import { generateSigningKey, loadPrivateKey, loadTrustedKeys, signModel, verifyModel } from '../../security/signing.ts';

/** Add the signing subcommands to the `models` command; they use its `--repo` (parsed by the parent wherever it appears). */
export function registerModelSigning(models: Command): void {
  models
    .command('keygen')
    .description('make an ed25519 signing key pair: FILE (private, mode 0600) and FILE.pub (public, give it to the servers)')
    .requiredOption('--key <file>', 'private key file to create')
    .action(action(async (o: { key: string }) => {
      const r = await generateSigningKey(o.key);
      process.stdout.write(`signing key ${r.keyId}: private ${o.key}, public ${r.publicFile}\n`);
    }));

  models
    .command('sign')
    .description('sign a model version (its model.onnx and the config.yaml that applies) into <version>/signature.json')
    .requiredOption('-m, --model <name[:version]>', 'model (newest version when none is given)')
    .requiredOption('--key <file>', 'ed25519 private key (from `models keygen`)')
    .action(action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ model: string; key: string; repo?: string }>();
      const repo = await ModelRepository.open(o.repo ?? DEFAULT_REPO);
      const resolved = await repo.resolve(parseModelRef(o.model));
      const sig = await signModel(resolved, await loadPrivateKey(o.key));
      process.stdout.write(`signed ${sig.model}:${sig.version} with key ${sig.key_id} (model.onnx ${sig.files['model.onnx'].slice(0, 12)}…, config.yaml ${sig.files['config.yaml'].slice(0, 12)}…)\n`);
    }));

  models
    .command('verify')
    .description('check a model version against its signature and trusted public keys; exit 1 when it does not match')
    .requiredOption('-m, --model <name[:version]>', 'model (newest version when none is given)')
    .requiredOption('--trusted-key <files...>', 'trusted public key files (PEM)')
    .action(action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ model: string; trustedKey: string[]; repo?: string }>();
      const repo = await ModelRepository.open(o.repo ?? DEFAULT_REPO);
      const resolved = await repo.resolve(parseModelRef(o.model));
      const sig = await verifyModel(resolved, await loadTrustedKeys(o.trustedKey));
      process.stdout.write(`OK: ${sig.model}:${sig.version} signed by ${sig.key_id} at ${sig.signed_at}\n`);
    }));
}
