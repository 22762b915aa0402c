// Secrets never reach the log stream, wherever a module puts them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger } from '../../daemon/log.js';

const test = suite('structured logs: secrets are redacted');

function capture() {
  const lines: string[] = [];
  return {
    lines,
    logger: createLogger('info', {
      write: (s: string) => {
        lines.push(s);
      },
    }),
  };
}

const SECRETS = [
  'acme-1001-demo',
  '5f4dcc3b5aa765d61d8327deb882cf99',
  'eyJhbGciOiJFUzI1NiJ9.payload.sig',
  'ClueCon-prod',
  's3cr3t-cookie',
];

test('passwords, A1 hashes, tokens, digest responses, auth headers are replaced', () => {
  const { lines, logger } = capture();
  logger.info({ password: SECRETS[0], user: '1001', domain: 'acme.pbx.test' }, 'top level');
  logger.info({ extension: { a1_hash: SECRETS[1], number: '1001' } }, 'snake case');
  logger.info({ extension: { a1Hash: SECRETS[1] } }, 'camel case');
  logger.info({ params: { 'a1-hash': SECRETS[1] } }, 'FreeSWITCH directory param name');
  logger.info({ token: SECRETS[2] }, 'bearer');
  logger.info({ auth: { token: SECRETS[2] } }, 'nested token');
  logger.info(
    { fetch: { sip_auth_response: SECRETS[1], sip_auth_nonce: 'n0nce-value', sip_auth_username: '1001' } },
    'xml_curl form',
  );
  logger.info({ req: { headers: { authorization: `Bearer ${SECRETS[2]}`, cookie: SECRETS[4] } } }, 'request headers');
  logger.info(
    { headers: { authorization: `Basic ${Buffer.from('freeswitch:demo-xmlcurl').toString('base64')}` } },
    'raw headers',
  );
  logger.info({ node: { name: 'fs1', host: '10.0.0.5', password: SECRETS[3] } }, 'one ESL node');
  logger.info(
    {
      esl: {
        nodes: [
          { name: 'fs1', password: SECRETS[3] },
          { name: 'fs2', password: SECRETS[3] },
        ],
      },
    },
    'ESL config',
  );
  logger.info({ secret: 'x'.repeat(10) }, 'generic secret');

  assert.is(lines.length, 12);
  const all = lines.join('');
  for (const s of [...SECRETS, 'n0nce-value', 'ZnJlZXN3aXRjaDpkZW1vLXhtbGN1cmw', 'xxxxxxxxxx']) {
    assert.not.ok(all.includes(s), `secret ${s} leaked: ${lines.find((l) => l.includes(s))}`);
  }
  // What is not secret stays, so the lines are still useful.
  const first = JSON.parse(lines[0]!);
  assert.equal(
    [first.password, first.user, first.domain, first.service],
    ['[redacted]', '1001', 'acme.pbx.test', 'fs-tenantd'],
  );
  assert.is(JSON.parse(lines[6]!).fetch.sip_auth_username, '1001');
  assert.is(JSON.parse(lines[10]!).esl.nodes[1].name, 'fs2');
});

test('log level is honoured', () => {
  const lines: string[] = [];
  const logger = createLogger('warn', {
    write: (s: string) => {
      lines.push(s);
    },
  });
  logger.info({}, 'hidden');
  logger.warn({}, 'shown');
  assert.equal(
    lines.map((l) => JSON.parse(l).msg),
    ['shown'],
  );
});

test.run();
