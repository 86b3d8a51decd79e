/**
 * `linesight tokens create|list|revoke`: API tokens for the HTTP API (shown once, stored hashed),
 * and `linesight tokens mqtt-user add|remove` for devices on the embedded MQTT broker.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { action } from '../context.ts';
import { cliUser, DEFAULT_DATA_DIR, withAudit } from '../cli-audit.ts';
import { TokenStore } from '../../security/tokens.ts';
import { ROLES, isRole, type Role } from '../../security/roles.ts';
import { removeFileUser, setFileUser } from '../../security/mqtt-auth.ts';
import { LsError } from '../../core/errors.ts';

interface DataOpts {
  data: string;
  tokensFile?: string;
  auditFile?: string;
}

const tokensFile = (o: DataOpts) => o.tokensFile ?? path.join(o.data, 'tokens.json');

function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function dataOptions(c: Command): Command {
  return c
    .option('--data <dir>', 'data folder (tokens.json, audit.log)', DEFAULT_DATA_DIR)
    .option('--tokens-file <file>', 'token file (default <data>/tokens.json)')
    .option('--audit-file <file>', 'audit log (default <data>/audit.log)');
}

export function register(program: Command): void {
  const tokens = program.command('tokens').description('API tokens: create (shown once), list, revoke; MQTT users');

  dataOptions(tokens.command('create'))
    .description('create a token; it is printed once and stored only as a hash')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--lines <a,b>', 'restrict the token to these production lines')
    .option('--name <name>', 'a name shown in lists and audit entries')
    .option('--expires <days>', 'refuse the token after this many days (default: until revoked)')
    .option('--json', 'print JSON')
    .action(action(async (o: DataOpts & { role: string; lines?: string; name?: string; expires?: string; json?: boolean }) => {
      if (!isRole(o.role)) throw new LsError('LS_ERR_VALIDATION', `--role must be one of ${ROLES.join(', ')}`, { subject: o.role });
      const days = o.expires === undefined ? undefined : Number(o.expires);
      if (days !== undefined && !(days > 0 && days <= 3650)) throw new LsError('LS_ERR_VALIDATION', '--expires takes a number of days (0-3650]', { subject: o.expires });
      const store = await TokenStore.open(tokensFile(o));
      const { token, info } = await withAudit(o, async () => {
        const r = await store.create({ role: o.role as Role, ...(o.lines ? { lines: list(o.lines) } : {}), ...(o.name ? { name: o.name } : {}), ...(days ? { expires_in_days: days } : {}) }, cliUser());
        return { result: r, entry: { action: 'token.create', target: `token:${r.info.id}`, details: { role: r.info.role, lines: r.info.lines, name: r.info.name } } };
      });
      if (o.json) process.stdout.write(`${JSON.stringify({ token, ...info })}\n`);
      else {
        process.stdout.write(`${token}\n`);
        process.stderr.write(`token ${info.id} (${info.name}, role ${info.role}${info.lines ? `, lines ${info.lines.join(',')}` : ''}) created; it is not shown again\n`);
      }
    }));

  dataOptions(tokens.command('list'))
    .description('list tokens (never their secrets)')
    .option('--json', 'print JSON')
    .action(action(async (o: DataOpts & { json?: boolean }) => {
      const all = await (await TokenStore.open(tokensFile(o))).list();
      if (o.json) return void process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
      if (!all.length) process.stdout.write('no tokens\n');
      for (const t of all) {
        const state = t.revoked ? 'REVOKED ' : t.expires_at && Date.parse(t.expires_at) <= Date.now() ? 'EXPIRED ' : 'active  ';
        process.stdout.write(`${t.id}  ${t.role.padEnd(9)} ${state} ${t.name}${t.lines ? `  lines=${t.lines.join(',')}` : ''}  created ${t.created_at} by ${t.created_by}${t.expires_at ? `  expires ${t.expires_at}` : ''}\n`);
      }
    }));

  dataOptions(tokens.command('revoke'))
    .description('revoke a token by id (a running server refuses it at once)')
    .argument('<id>', 'token id from `tokens list`')
    .action(action(async (id: string, o: DataOpts) => {
      const store = await TokenStore.open(tokensFile(o));
      const info = await withAudit(o, async () => {
        const r = await store.revoke(id, cliUser());
        return { result: r, entry: { action: 'token.revoke', target: `token:${r.id}` } };
      });
      process.stdout.write(`revoked ${info.id} (${info.name})\n`);
    }));

  const mqtt = tokens.command('mqtt-user').description('users of the embedded MQTT broker (password hashed, topic-prefix ACLs)');
  const usersFile = (o: DataOpts & { usersFile?: string }) => o.usersFile ?? path.join(o.data, 'mqtt-users.json');
  dataOptions(mqtt.command('add'))
    .description('add or replace an MQTT user; the password is read from LINESIGHT_MQTT_PASSWORD or generated and printed once')
    .argument('<username>')
    .option('--users-file <file>', 'MQTT users file (default <data>/mqtt-users.json)')
    .option('--publish <prefixes>', 'topic prefixes the user may publish under, comma separated', '')
    .option('--subscribe <prefixes>', 'topic prefixes the user may subscribe under, comma separated', '')
    .option('--cert', 'also accept a client certificate whose CN is the username (mutual TLS)')
    .action(action(async (username: string, o: DataOpts & { usersFile?: string; publish: string; subscribe: string; cert?: boolean }) => {
      const { randomBytes } = await import('node:crypto');
      const given = process.env.LINESIGHT_MQTT_PASSWORD;
      const password = given ?? randomBytes(18).toString('base64url');
      const u = await withAudit(o, async () => {
        const r = await setFileUser(usersFile(o), { username, password, allow_cert: o.cert ?? false, publish: list(o.publish), subscribe: list(o.subscribe) });
        return { result: r, entry: { action: 'mqtt_user.set', target: `mqtt:${username}`, details: { publish: r.publish, subscribe: r.subscribe, allow_cert: r.allow_cert } } };
      });
      if (!given) process.stdout.write(`${password}\n`);
      process.stderr.write(`MQTT user ${username}: publish [${u.publish.join(', ')}], subscribe [${u.subscribe.join(', ')}]${given ? '' : '; the password above is not shown again'}\n`);
    }));
  dataOptions(mqtt.command('remove'))
    .description('remove an MQTT user')
    .argument('<username>')
    .option('--users-file <file>', 'MQTT users file (default <data>/mqtt-users.json)')
    .action(action(async (username: string, o: DataOpts & { usersFile?: string }) => {
      await withAudit(o, async () => {
        if (!(await removeFileUser(usersFile(o), username))) throw new LsError('LS_ERR_NOT_FOUND', `no MQTT user ${username}`, { subject: username });
        return { result: undefined, entry: { action: 'mqtt_user.remove', target: `mqtt:${username}` } };
      });
      process.stdout.write(`removed ${username}\n`);
    }));
}
