/**
 * `linesight serve --repo ./models --port 8080 --host 127.0.0.1`: the Open Inference Protocol v2
 * server with dynamic batching, /v1/inspect and /metrics. Ctrl-C finishes requests in flight and
 * releases the models.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { createLogger } from '../../core/log.ts';
import { parseWith } from '../../core/validate.ts';
import { Metrics } from '../../monitoring/metrics.ts';
import { startServer } from '../../serving/server.ts';
import { addSecurityOptions, securityOptionsFromFlags } from '../../security/cli-options.ts';
import { setupSecurity } from '../../security/index.ts';
import { action, DEFAULT_REPO } from '../context.ts';

const optionsSchema = z.object({
  repo: z.string().min(1),
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  poll: z.coerce.number().int().min(0),
  bodyLimitMb: z.coerce.number().positive().max(1024),
  preprocess: z.coerce.number().int().min(1).max(64),
  preprocessThreads: z.coerce.number().int().min(0).max(64),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  data: z.string().min(1),
});

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('serve the models of a repository over HTTP (Open Inference Protocol v2, /v1/inspect, /metrics)')
    .option('--repo <dir>', 'model repository folder', DEFAULT_REPO)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', '8080')
    .option('--poll <ms>', 'check the repository for new model versions every N ms (0 = never)', '5000')
    .option('--body-limit-mb <mb>', 'largest request body in MB', '32')
    .option('--preprocess <n>', 'images decoded and preprocessed at once', '4')
    .option('--preprocess-threads <n>', 'decode/preprocess images in N worker threads (0 = main thread)', '0')
    .option('--log-level <level>', 'log level (logs go to stderr)', 'info')
    .option('--data <dir>', 'folder for tokens, the audit log and the first admin token', './data');
  addSecurityOptions(cmd);
  cmd.action(
      action(async (raw: Record<string, unknown>) => {
        const o = parseWith(optionsSchema, raw, 'LS_ERR_VALIDATION', 'serve options');
        const logger = createLogger({ level: o.logLevel });
        const metrics = new Metrics();
        // Secure by default: tokens and roles on every route, audit of every change, TLS when given.
        const sec = await setupSecurity({
          ...(await securityOptionsFromFlags(raw)),
          dataDir: o.data, repoDir: o.repo, host: o.host, log: logger, registry: metrics.registry,
          print: (l) => process.stdout.write(`${l}\n`),
        });
        let server: Awaited<ReturnType<typeof startServer>>;
        try {
          server = await startServer({
            metrics,
            plugins: [sec.plugin],
            audit: sec.audit,
            ...(sec.tls ? { tls: sec.tls } : {}),
            repoDir: o.repo,
            host: o.host,
            port: o.port,
            logger,
            pollIntervalMs: o.poll,
            bodyLimit: Math.round(o.bodyLimitMb * 1024 * 1024),
            preprocessConcurrency: o.preprocess,
            preprocessThreads: o.preprocessThreads,
          });
        } catch (e) {
          await sec.dispose();
          throw e;
        }
        const models = server.service.status();
        process.stdout.write(`LineSight serving ${models.length} model version(s) at ${server.url}\n`);
        for (const m of models) process.stdout.write(`  ${m.name}:${m.version}  ${m.state}${m.reason ? `  (${m.reason})` : ''}\n`);
        process.stdout.write(`  v2: ${server.url}/v2   inspect: POST ${server.url}/v1/inspect/<model>   metrics: ${server.url}/metrics\n`);
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            process.stdout.write('shutting down: finishing requests in flight...\n');
            server.dispose().then(() => sec.dispose()).then(resolve, (e) => {
              logger.error({ err: e }, 'shutdown failed');
              resolve();
            });
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
      }),
    );
}
